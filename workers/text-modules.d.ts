/** A `.txt` file imported by the Worker is a text module (wrangler's default rule): its content as a string. */
declare module "*.txt" {
  const text: string;
  export default text;
}
