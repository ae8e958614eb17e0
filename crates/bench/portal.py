"""A small client of the portal's HTTP API for the benchmark scripts (Python stdlib only):
sign in as staff or as a developer, trade the session for a personal access token, and
onboard a project up to a sandbox credential, as the end-to-end tests do."""
import http.client
import json
import re
import time
import urllib.parse

GATEWAY_TOKEN = "bench-gateway-token"
FIRST_ADMIN_EMAIL = "admin@portal.local"
PASSWORD = "correct horse battery"


class ApiError(Exception):
    pass


class Api:
    """One keep-alive connection to `base`; `token` is sent as a bearer token."""

    def __init__(self, base, token=None):
        u = urllib.parse.urlparse(base)
        self.base = base
        self.host, self.port = u.hostname, u.port or 80
        self.token = token
        self.cookie = None
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def call(self, method, path, body=None, headers=None):
        """Answers (status, parsed JSON body or text)."""
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if self.cookie:
            h["Cookie"] = self.cookie
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        for attempt in range(2):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("portal_session="):
                self.cookie = v.split(";", 1)[0]
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return r.status, parsed

    def ok(self, method, path, body=None):
        status, b = self.call(method, path, body)
        if not 200 <= status < 300:
            raise ApiError(f"{method} {path}: {status} {b}")
        return b

    def post(self, path, body=None):
        return self.ok("POST", path, {} if body is None else body)

    def get(self, path):
        return self.ok("GET", path)

    def with_token(self):
        """Trades the session cookie for a personal access token."""
        t = self.post("/api/v1/tokens", {"name": "bench", "expires_in_days": 1})
        self.token, self.cookie = t["token"], None
        return self


def admin_password(log_path, timeout=10):
    """The first admin's password from the start-up banner in the server's log (printed just
    after the listener is up, so it may trail the first ready answer)."""
    deadline = time.time() + timeout
    while True:
        for line in open(log_path, errors="replace"):
            m = re.match(r"\s*password: (\S+)", line)
            if m:
                return m.group(1)
        if time.time() > deadline:
            raise ApiError(f"no admin password in {log_path}")
        time.sleep(0.02)


def staff(base, password):
    a = Api(base)
    a.post("/api/v1/staff/sign-in", {"email": FIRST_ADMIN_EMAIL, "password": password})
    return a.with_token()


def simple_plan(admin, name="Business"):
    """A free product and plan, sandbox open, whose only gate is the declared use case."""
    product = admin.post("/api/v1/products", {"name": "Account Data API", "description": "Balances"})
    plan = admin.post(f"/api/v1/products/{product['id']}/plans", {
        "name": name, "sandbox_access": "open", "endpoints": ["GET /accounts"], "events": [],
        "test_data": [], "pricing": {"kind": "free"}, "gates": ["declared_use_case"],
        "integration_min_calls": 0})
    return plan["id"]


def developer(base, email):
    d = Api(base)
    d.post("/api/v1/auth/sign-up", {"email": email, "name": "Dev", "password": PASSWORD})
    d.post("/api/v1/auth/sign-in", {"email": email, "password": PASSWORD})
    return d.with_token()


def onboard(dev, plan, endpoint="GET /accounts"):
    """Workspace (all roles), project, subscription: answers their ids."""
    ws = dev.post("/api/v1/workspaces", {"name": "Acme"})["id"]
    me = dev.get("/api/v1/me")["account"]["id"]
    dev.ok("PUT", f"/api/v1/workspaces/{ws}/members/{me}/roles",
           {"roles": ["owner", "technical_lead", "billing"]})
    project = dev.post(f"/api/v1/workspaces/{ws}/projects", {
        "name": "Ledger sync", "purpose": "Nightly balance sync", "endpoints": [endpoint]})["id"]
    sub = dev.post(f"/api/v1/projects/{project}/subscriptions", {"plan_id": plan})["id"]
    return {"ws": ws, "project": project, "sub": sub}


def credential(dev, sub, name="bench"):
    """A sandbox API key: (credential id, secret)."""
    c = dev.post(f"/api/v1/subscriptions/{sub}/credentials", {"environment": "sandbox", "name": name})
    return c["credential"]["id"], c["secret"]


def verify(gw, secret, endpoint="GET /accounts"):
    return gw.post("/api/v1/verify", {"secret": secret, "endpoint": endpoint})


def wait_ready(base, timeout=60):
    a = Api(base)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if a.call("GET", "/readyz")[0] == 200:
                return
        except OSError:
            a.conn = None
        time.sleep(0.025)
    raise ApiError(f"not ready: {base}")


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1))
    return v[k]
