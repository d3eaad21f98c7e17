// Placeholder until the collector's validator lands (owned by the collector work).
export {};
