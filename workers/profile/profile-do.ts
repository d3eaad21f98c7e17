import { DurableObject } from "cloudflare:workers";

// Placeholder: the profile work owns this file.
export class ProfileDO extends DurableObject<Env> {}
