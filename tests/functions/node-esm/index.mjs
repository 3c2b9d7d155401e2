// An ES module handler (.mjs), loaded with import().
import { basename } from "node:path";

export const handler = async (event, context) => ({
  esm: true,
  hasRequire: typeof require !== "undefined",
  file: basename(new URL(import.meta.url).pathname),
  requestId: context.awsRequestId,
});

export const thrown = async () => {
  throw new Error("boom");
};
