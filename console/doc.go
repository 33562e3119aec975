// Package console is the web console of a DistKV server: a few static
// pages (HTML, CSS and a little JavaScript, embedded, no build step) and
// the JSON API under /api/ they use.
//
// # Pages
//
//   - Tree: one node at a time, its value as the CLI prints a literal
//     (core/literal), and its children a page at a time (100; the API
//     takes up to 500), the next page loaded when the list is scrolled to
//     its end. The node and its children are kept live by a watch,
//     streamed to the page as server-sent events. A value is edited as a
//     literal (as `data set -e` takes it) and saved, or deleted, with the
//     chain the page read as precondition: a change made meanwhile is
//     shown as a conflict, with the value the entry holds now.
//   - Errors: the records of package errlog, their traces, and resolve.
//   - Runners: the jobs of package runner and their states: where and
//     when they ran, how it ended, when they run next.
//   - Network: what `distkv client internal state -n -m` shows: every
//     server's newest tick, and the ticks this server misses; and the
//     links: the other live servers and whether this one is connected to
//     them (Config.Links).
//
// # Sessions
//
// Every request goes through a client connection of the console's
// session, logged in as the session's user, so the console shows and
// changes only what the user's ACL allows, through the same request gate
// as every client. A session is a random 256-bit token in an HttpOnly,
// SameSite=Strict cookie (Secure over HTTPS). It ends at logout, after
// 30 minutes unused (Config.IdleTimeout), when the console closes, or
// when it is the one idle longest and a new session would exceed 100
// (Config.MaxSessions); its client is then closed. With logins off each
// browser gets a session without a login (the server's root) and the
// page says so; such sessions end once logins are switched on. A session
// runs at most 8 watches (live views) at once; one more is refused with
// 429.
//
// # Requests
//
// Requests that change something are POST, PUT or DELETE with a JSON
// body (at most 1 MiB) and the header X-DistKV: 1, which the page sets
// and another site cannot without the CORS preflight that the console
// never answers; a request whose Origin is another host is refused. The
// pages load no script but their own (Content-Security-Policy) and
// cannot be framed. With logins off the console answers only to a Host
// that is an IP address, localhost or the machine's name (DNS rebinding
// would make another site the console's origin). A failed request answers {"error": "…"} with a status
// that fits (400 bad input, 401 log in, 403 access denied, 404, 409
// conflict, 502 the server failed).
//
// # API
//
//	GET    /api/session                 {node, loginsOn, loggedIn, user}
//	POST   /api/login    {name, password}
//	POST   /api/logout
//	GET    /api/tree?path=P[&after=C][&limit=N]   a page of P's children
//	GET    /api/entry?path=P
//	PUT    /api/entry    {path, value, chain}      chain [] : must be new
//	DELETE /api/entry    {path, chain}
//	GET    /api/watch?path=P            text/event-stream: ready, entry, failed
//	GET    /api/errors                  POST /api/errors/resolve {at}
//	GET    /api/runners
//	GET    /api/network
//
// Paths are in the CLI's text form (":" is the root).
//
// # Concurrency
//
// A Console is safe for concurrent use. It starts one goroutine that ends
// idle sessions; Close stops it and ends every session and watch.
package console
