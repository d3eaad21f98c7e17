// API keys are hashed where they are stored (`d1/`); the Worker hashes with the same function to look them up.
export { sha256Hex } from "../../d1/hash";
