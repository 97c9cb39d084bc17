"""The HTTP API, as routers: meta (health, readiness, who am I, the policy), sync (the
rep's protocol v1), marketing (leads, assignment, feedback, the report), reports (every
number of the workspace) and actions (import, policy, assign by filter). `deps` holds the
Annotated dependencies they share; `errors` the JSON errors and the body limit."""
