import { render } from "preact";
import { App } from "./app";
// Loaded before the first render on purpose: its Back/Forward listener must be on window before the router's.
import "./leave-guard";

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
