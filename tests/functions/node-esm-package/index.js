// index.js under "type": "module": an ES module, loaded with import().
export const handler = async () => ({ esm: typeof require === "undefined" });
