-- wrk script for the group-commit writer benchmark: every request is an empty POST (wrk sends
-- Content-Length: 0) to /api/v1/bench/rows, served only by `yizhan serve --bench-routes`, which inserts
-- one durable row and answers 201.
wrk.method = "POST"
wrk.body = ""
