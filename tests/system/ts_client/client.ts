// A client generated from /api/schema by openapi-typescript, used through openapi-fetch exactly as a user would
// (tests/system/test_openapi_generated_clients.py). Type-checked with `tsc --strict`, then run:
//   node client.js BASE_URL  ->  prints the JSON result of the calls below
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

declare const process: { argv: string[] }; // Node's, without @types/node

// issue 22 item 15: a submission naming only the required fields type-checks (defaulted fields are optional)
const submission: components["schemas"]["TaskSubmission"] = { checkpoint_hash: "0".repeat(64), prompt: "a lighthouse" };

const client = createClient<paths>({ baseUrl: process.argv[2] });

// issue 22 item 13: each filter is its own typed parameter, operators included
const large = await client.GET("/api/models", {
  params: { query: { "filter[size][gte]": 2000, "filter[name][contains]": "dream", sort: "-size" } },
});
const notVae = await client.GET("/api/models", {
  params: { query: { "filter[model_type][not_in]": "vae,embedding", "filter[created_at][lt]": "2999-01-01T00:00:00Z" } },
});
if (large.error || notVae.error) throw new Error(JSON.stringify(large.error ?? notVae.error));
console.log(JSON.stringify({
  large: large.data.data.map((model) => model.attributes?.name),
  notVae: notVae.data.data.map((model) => model.attributes?.name).sort(),
  submissionFields: Object.keys(submission),
}));
