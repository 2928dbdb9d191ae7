// The page's calls: all to ui/api/ (relative to the page), with the session cookie; a change carries
// the CSRF token (X-CSRF-Token).

export type Json = Record<string, any>;

let csrf = "";

export function cookie(name: string): string {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

export function setCsrf(token: string): void {
  csrf = token;
}

export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

async function answer(r: Response): Promise<Json> {
  const text = await r.text();
  let body: Json = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text };
  }
  if (!r.ok) throw new ApiError(r.status, String(body.message ?? body.detail ?? r.statusText));
  return body;
}

export async function get(path: string): Promise<Json> {
  return answer(await fetch(`api/${path}`, { credentials: "same-origin", headers: { Accept: "application/json" } }));
}

export async function post(path: string, body: Json = {}): Promise<Json> {
  const r = await fetch(`api/${path}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf || cookie("parley_ui_csrf") },
    body: JSON.stringify(body),
  });
  return answer(r);
}
