// Calls every route the way the original project's TypeScript SDK (nestia
// fetcher) does: encrypted bodies are `text/plain` base64 of AES-CBC/PKCS#5
// over JSON.stringify(input), with the key and IV as UTF-8 strings; a 200 or
// 201 answer is decrypted the same way; an application/json answer is
// JSON-parsed when not empty. Prints one JSON line per call.
import crypto from "node:crypto";

const [host, key, iv] = [process.env.HOST, process.env.KEY, process.env.IV];
const algorithm = `aes-${key.length * 8}-cbc`;
const encrypt = (text) => {
  const cipher = crypto.createCipheriv(algorithm, key, iv);
  return cipher.update(text, "utf8", "base64") + cipher.final("base64");
};
const decrypt = (text) => {
  const decipher = crypto.createDecipheriv(algorithm, key, iv);
  return decipher.update(text, "base64", "utf8") + decipher.final("utf8");
};

async function call(name, method, path, { input, encrypted = true, requestType, responseType }) {
  const headers = {};
  let body;
  if (input !== undefined) {
    headers["Content-Type"] = requestType ?? (encrypted ? "text/plain" : "application/json");
    body = encrypted ? encrypt(JSON.stringify(input)) : JSON.stringify(input);
  }
  const response = await fetch(host + path, { method, headers, body });
  const text = await response.text();
  let data;
  if (response.status === 200 || response.status === 201) {
    data = (responseType ?? (encrypted ? "text/plain" : "application/json")) === "application/json"
      ? (text.length ? JSON.parse(text) : undefined)
      : JSON.parse(decrypt(text));
  } else {
    data = text;
  }
  console.log(JSON.stringify({ name, status: response.status, data: data ?? null }));
  return data;
}

const source = { schema: "shop", table: "orders", id: "sdk-order" };
const history = await call("createHistory", "POST", "/payments/histories", {
  input: {
    vendor: { code: "iamport", store_id: "store-1", uid: "imp_sdk" },
    source, price: 25000, password: "sdk-secret", webhook_url: "http://127.0.0.1:9/hook",
  },
});
await call("getHistory", "PATCH", "/payments/histories/get", { input: { ...source, password: "sdk-secret" } });
await call("getHistoryById", "PATCH", `/payments/histories/${history.id}`, { input: { password: "sdk-secret" } });
await call("cancelHistory", "PUT", "/payments/histories/cancel", {
  input: { source, password: "sdk-secret", price: 5000, reason: "sdk", account: null },
});
const customer = { schema: "shop", table: "customers", id: "sdk-customer" };
const reservation = await call("createReservation", "POST", "/payments/reservations", {
  input: { vendor: { code: "toss.payments", store_id: "store-1", uid: "billing_sdk" }, source: customer, title: "card", password: "sdk-secret" },
});
await call("getReservation", "PATCH", "/payments/reservations/get", { input: { ...customer, password: "sdk-secret" } });
await call("getReservationById", "PATCH", `/payments/reservations/${reservation.id}`, { input: { password: "sdk-secret" } });
await call("receiveIamportWebhook", "POST", "/payments/webhooks/iamport", {
  encrypted: false, input: { imp_uid: "imp_sdk", merchant_uid: "sdk-order", status: "paid" },
});
await call("receiveTossWebhook", "POST", "/payments/webhooks/toss", {
  encrypted: false, input: { eventType: "PAYMENT_STATUS_CHANGED", data: { paymentKey: "nobody", orderId: "x", status: "DONE" } },
});
await call("health", "GET", "/monitors/health", { encrypted: false });
await call("system", "GET", "/monitors/system", {});
await call("performance", "GET", "/monitors/performance", {});
await call("wrongPassword", "PATCH", "/payments/histories/get", { input: { ...source, password: "nope" } });
