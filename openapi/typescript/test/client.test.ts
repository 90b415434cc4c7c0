// The client's own API key and wire key, without a server: what goes out
// and how the answer is opened.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createPaymentsClient, WireCipher } from "../src/index.js";

const clientKeys = { key: "Jx8kq2Lr7Wv0Yt3Zb6Nc1Md4Pf9Gh5Sa", iv: "Hc2Qe7Rw1Tz8Uy4I" };

test("a client's calls carry its API key and are sealed with its own wire key", async () => {
  const cipher = new WireCipher(clientKeys);
  const seen: { authorization: string | null; url: string }[] = [];
  const fetch = async (input: Request): Promise<Response> => {
    seen.push({ authorization: input.headers.get("authorization"), url: input.url });
    const page = { events: [], next_after: null };
    return new Response(cipher.encrypt(JSON.stringify(page)), {
      status: 200,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  };
  const client = createPaymentsClient({ baseUrl: "http://127.0.0.1:9", ...clientKeys, apiKey: "pk_test_abc", fetch });
  const { data, error } = await client.GET("/payments/events", { params: { query: { limit: 10 } } });
  assert.equal(error, undefined);
  assert.deepEqual(data, { events: [], next_after: null });
  assert.deepEqual(seen, [{ authorization: "Bearer pk_test_abc", url: "http://127.0.0.1:9/payments/events?limit=10" }]);

  const legacy = createPaymentsClient({ baseUrl: "http://127.0.0.1:9", ...clientKeys, fetch });
  await legacy.GET("/payments/events", {});
  assert.equal(seen[1]?.authorization, null, "no key: the legacy client");
});
