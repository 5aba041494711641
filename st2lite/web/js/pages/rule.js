// Placeholder: written by the page's author.
import { pageHeader } from "../dom.js";

export function render(main) {
  main.append(pageHeader("Rule"));
}
