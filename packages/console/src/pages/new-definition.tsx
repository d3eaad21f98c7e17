import { DefinitionBuilder, type DefinitionKind, NOUN } from "../definitions/definition-builder";

export function NewDefinition({ kind }: { kind: DefinitionKind }) {
  return (
    <>
      <h1>New {NOUN[kind]}</h1>
      <DefinitionBuilder kind={kind} />
    </>
  );
}
