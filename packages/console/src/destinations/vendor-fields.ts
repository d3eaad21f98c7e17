/**
 * The config fields of each destination type as the form asks for them (DESIGN §7). The Worker's plugins validate
 * them; this only decides labels, which are secrets (password fields) and which are required.
 */
export interface VendorField {
  key: string;
  label: string;
  secret?: boolean;
  required?: boolean;
  placeholder?: string;
}

export const VENDOR_FIELDS: Record<string, VendorField[]> = {
  hubspot: [
    { key: "access_token", label: "Access token", secret: true, required: true },
    { key: "client_secret", label: "Client secret (webhooks)", secret: true },
    { key: "base_url", label: "Base URL", placeholder: "https://api.hubapi.com" },
  ],
  mailchimp: [
    { key: "api_key", label: "API key", secret: true, required: true, placeholder: "…-us21" },
    { key: "list_id", label: "Audience (list) id", required: true },
    { key: "status_if_new", label: "Status if new", placeholder: "subscribed | pending | transactional" },
    { key: "base_url", label: "Base URL" },
  ],
  klaviyo: [
    { key: "api_key", label: "Private API key", secret: true, required: true, placeholder: "pk_…" },
    { key: "webhook_secret", label: "Webhook secret", secret: true },
    { key: "revision", label: "API revision", placeholder: "2026-07-15" },
    { key: "base_url", label: "Base URL", placeholder: "https://a.klaviyo.com" },
  ],
  marketo: [
    { key: "base_url", label: "REST base URL", required: true, placeholder: "https://123-ABC-456.mktorest.com" },
    { key: "client_id", label: "Client id", required: true },
    { key: "client_secret", label: "Client secret", secret: true, required: true },
    { key: "folder_id", label: "Folder id", required: true },
  ],
  webhook: [
    { key: "url", label: "URL", required: true, placeholder: "https://hooks.example.com/tessera" },
    { key: "secret", label: "Signing secret", secret: true, required: true },
  ],
};

export const DESTINATION_TYPES = Object.keys(VENDOR_FIELDS);

/** Each type's vendor as its users write it, for sentences ("Nothing is removed in HubSpot"). */
export const VENDOR_NAMES: Record<string, string> = {
  hubspot: "HubSpot",
  mailchimp: "Mailchimp",
  klaviyo: "Klaviyo",
  marketo: "Marketo",
};

const FORM_FIELDS = new Map([
  ["name", "Name"],
  ["audiences", "Audiences synced"],
  ["traits", "Traits sent"],
  ["enabled", "Enabled"],
]);

/**
 * The destination form's label for a JSON path the API's messages name (see field-message.ts), or undefined.
 *
 * @example destinationFieldLabel("webhook", "config.secret") // "Signing secret"
 */
export function destinationFieldLabel(type: string, path: string): string | undefined {
  const config = /^config\.(\w+)$/.exec(path);
  if (config) return VENDOR_FIELDS[type]?.find((f) => f.key === config[1])?.label;
  return FORM_FIELDS.get(path.replace(/\[\d+\]$/, ""));
}
