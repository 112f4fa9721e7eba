// A tiny HTTP client for API tests over Node's fetch: a cookie jar, no automatic redirects, CSRF.
//
//   const c = new Client(srv.url);
//   await c.login('zhangsan', 'secret');            // POST /api/v1/session {login, password}
//   const res = await c.post('/api/v1/things', { json: { name: 'x' } });
//   assert.equal(res.status, 201);
//   const p = await problem(await c.get('/api/v1/nope'));   // problem+json body, checked
//
// Requests return the fetch Response untouched (read its body once: res.json(), res.text()).
// Options of get/post/put/patch/del: { json, form, multipart, body, headers }:
//   json       any value → JSON body, Content-Type application/json
//   form       object or URLSearchParams → application/x-www-form-urlencoded
//   multipart  a FormData → multipart/form-data (fetch writes the boundary)
//   body       raw string/Buffer, with your own Content-Type in headers
// Cookies from Set-Cookie are kept per name (deleted by Max-Age<=0 or a past Expires) and sent back on
// every request; the test server is one host, so Domain and Path are not considered. After login() the
// session's CSRF token (the `csrf` field of the answer) is sent as X-CSRF-Token on POST/PUT/PATCH/DELETE
// unless the call gives its own. Redirects are not followed (redirect: 'manual'): assert on
// res.status and res.headers.get('location').
export class Client {
	constructor(baseUrl, { headers = {} } = {}) {
		this.baseUrl = baseUrl.replace(/\/$/, '');
		this.defaultHeaders = headers;
		this.jar = new Map(); // cookie name → value
		this.csrf = null;
	}

	cookie(name) {
		return this.jar.get(name);
	}

	cookieHeader() {
		return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
	}

	storeCookies(res) {
		const list = typeof res.headers.getSetCookie === 'function' ? res.headers.getSetCookie() : [];
		for (const sc of list) {
			const parts = sc.split(';').map((s) => s.trim());
			const eq = parts[0].indexOf('=');
			if (eq <= 0) continue;
			const name = parts[0].slice(0, eq).trim();
			const value = parts[0].slice(eq + 1).trim();
			let expired = false;
			for (const attr of parts.slice(1)) {
				const [k, ...rest] = attr.split('=');
				const key = k.trim().toLowerCase();
				const val = rest.join('=').trim();
				if (key === 'max-age' && Number(val) <= 0) expired = true;
				if (key === 'expires' && Date.parse(val) < Date.now()) expired = true;
			}
			if (expired) this.jar.delete(name);
			else this.jar.set(name, value);
		}
	}

	async request(method, path, { json, form, multipart, body, headers = {} } = {}) {
		const h = { ...this.defaultHeaders };
		let payload = body;
		if (json !== undefined) {
			payload = JSON.stringify(json);
			h['content-type'] = 'application/json';
		} else if (form !== undefined) {
			payload = (form instanceof URLSearchParams ? form : new URLSearchParams(form)).toString();
			h['content-type'] = 'application/x-www-form-urlencoded';
		} else if (multipart !== undefined) {
			payload = multipart;
		}
		if (this.jar.size) h.cookie = this.cookieHeader();
		const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(method);
		if (unsafe && this.csrf) h['x-csrf-token'] = this.csrf;
		for (const [k, v] of Object.entries(headers)) {
			if (v === undefined || v === null) delete h[k.toLowerCase()];
			else h[k.toLowerCase()] = v;
		}
		const url = /^https?:\/\//.test(path) ? path : this.baseUrl + path;
		const res = await fetch(url, { method, headers: h, body: payload, redirect: 'manual' });
		this.storeCookies(res);
		return res;
	}

	get(path, opts) {
		return this.request('GET', path, opts);
	}
	head(path, opts) {
		return this.request('HEAD', path, opts);
	}
	post(path, opts) {
		return this.request('POST', path, opts);
	}
	put(path, opts) {
		return this.request('PUT', path, opts);
	}
	patch(path, opts) {
		return this.request('PATCH', path, opts);
	}
	del(path, opts) {
		return this.request('DELETE', path, opts);
	}

	// Log in through the JSON API. Throws (with the server's answer) unless it succeeds; returns the
	// parsed answer. The session cookie lands in the jar and the CSRF token in this.csrf.
	async login(loginName, password) {
		const res = await this.post('/api/v1/session', { json: { login: loginName, password } });
		const text = await res.text();
		if (!res.ok) throw new Error(`login ${loginName} failed: ${res.status} ${text}`);
		let body;
		try {
			body = JSON.parse(text);
		} catch {
			throw new Error(`login ${loginName}: answer is not JSON: ${text}`);
		}
		if (typeof body.csrf !== 'string' || !body.csrf)
			throw new Error(`login ${loginName}: answer has no csrf token: ${text}`);
		this.csrf = body.csrf;
		return body;
	}

	forget() {
		this.jar.clear();
		this.csrf = null;
	}
}

export function client(baseUrl, opts) {
	return new Client(baseUrl, opts);
}

// Read an RFC 9457 problem+json answer: checks the Content-Type and that `status` matches the HTTP
// status, and returns the parsed body. Throws with the raw answer otherwise.
export async function problem(res) {
	const ct = res.headers.get('content-type') || '';
	const text = await res.text();
	if (!/^application\/problem\+json\b/i.test(ct))
		throw new Error(`expected application/problem+json, got ${ct || 'no Content-Type'} (${res.status}): ${text.slice(0, 500)}`);
	let body;
	try {
		body = JSON.parse(text);
	} catch (e) {
		throw new Error(`problem+json body does not parse (${e.message}): ${text.slice(0, 500)}`);
	}
	if (body.status !== res.status)
		throw new Error(`problem+json status ${body.status} differs from HTTP status ${res.status}: ${text.slice(0, 500)}`);
	return body;
}
