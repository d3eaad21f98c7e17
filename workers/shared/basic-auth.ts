/**
 * The credential in an Authorization header: `Bearer <key>`, or HTTP Basic with the key as user and any
 * password (Segment's write-key convention: `base64("wk:")`). Null when absent or malformed.
 */
export function credentialFrom(header: string | undefined | null): string | null {
  if (!header) return null;
  const [scheme, value] = header.trim().split(/\s+/, 2);
  if (!value) return null;
  if (/^bearer$/i.test(scheme)) return value;
  if (!/^basic$/i.test(scheme)) return null;
  let decoded: string;
  try {
    decoded = atob(value);
  } catch {
    return null;
  }
  const user = decoded.split(":", 1)[0];
  return user || null;
}
