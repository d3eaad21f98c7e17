/**
 * What a destination's object remembers of a GDPR delete it was handed: a marker row in `synced` without an audience,
 * and nothing else of the person (see `DestinationDO.forgetContact`). Whatever arrives or finishes for the profile
 * afterwards — a late membership change, a replayed dead letter, a vendor call that was in flight — is checked
 * against it, so nothing of the person is sent or kept again.
 */

/**
 * Whether a GDPR delete of `profileId` came to this destination's object.
 *
 * @example if (erasedHere(ctx.storage.sql, op.profileId)) return; // nothing of the person is kept
 */
export function erasedHere(sql: SqlStorage, profileId: string): boolean {
  return sql.exec("SELECT 1 FROM synced WHERE profile_id = ? AND audience = ''", profileId).toArray().length > 0;
}
