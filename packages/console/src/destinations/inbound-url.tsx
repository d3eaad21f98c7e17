/**
 * The URL a destination's vendor posts engagement to (`POST /v1/webhooks/{id}?secret=…`). The secret in it lets
 * anyone write engagement into the workspace, so it is masked until revealed, and copied without being shown.
 */
import { useState } from "preact/hooks";
import { maskSecret, takesEngagementWebhook } from "./inbound-secret";

export function InboundUrl({ type, url }: { type: string; url: string }) {
  const [revealed, setRevealed] = useState(false);
  const [copied, setCopied] = useState<string>();
  if (!takesEngagementWebhook(type)) return null;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(url);
      setCopied("Copied.");
    } catch {
      setCopied("Could not copy: reveal the URL and copy it by hand.");
    }
  };
  return (
    <p class="muted">
      Engagement webhook URL for the vendor: <code>{revealed ? url : maskSecret(url)}</code>{" "}
      <button type="button" class="quiet" aria-pressed={revealed} onClick={() => setRevealed(!revealed)}>
        {revealed ? "Hide secret" : "Reveal secret"}
      </button>{" "}
      <button type="button" class="quiet" onClick={() => void copy()}>
        Copy URL
      </button>{" "}
      <span role="status">{copied ?? ""}</span>
    </p>
  );
}
