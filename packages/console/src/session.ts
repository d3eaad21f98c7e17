/**
 * The signed-in secret key: in `sessionStorage` (this tab only, gone when it closes), never a cookie, so no other
 * site's request can carry it (DESIGN §11).
 */
const STORAGE_KEY = "tessera.console.secretKey";

export function storedKey(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
