export * from "./identifiers";
export * from "./json-object";
export * from "./limits";
export * from "./messages";
export * from "./profile";
export * from "./validate";
