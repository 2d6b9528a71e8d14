// hey-api/openapi-ts, run by tests/system/test_openapi_generated_clients.py: its fetch client, whose SSE methods
// parse each event's `data` as JSON, and an SDK that validates every response (SSE events included) with zod.
export default {
  input: "schema.json",
  output: { path: "heyapi", importFileExtension: ".js" },
  logs: { file: false },
  plugins: ["@hey-api/client-fetch", "zod", { name: "@hey-api/sdk", validator: true }],
};
