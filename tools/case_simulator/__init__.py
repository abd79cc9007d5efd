"""A simulated district day for the demo: grid workers report cases, towns and communities
triage and handle what stays at their level, grid staff make the return visits.

``make up`` starts it next to the simulated departments (tools/department_adapter), so the
operations dashboard shows the demo district live. It acts only through the public HTTP
APIs with ordinary role tokens, exactly as the app and the town's desk would.
"""
