export * from "./identifiers";
export * from "./limits";
export * from "./messages";
export * from "./profile";
export * from "./validate";
