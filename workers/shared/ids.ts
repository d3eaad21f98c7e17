// Ids and API keys are D1 rows' keys, so they are made where the rows are written (`d1/`).
export { newId, newSecret } from "../../d1/ids";
