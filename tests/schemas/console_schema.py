"""Console tests: relationships both ways, an enum, a custom type, arrays, and a group-only model."""

from cove import a, define_auth, define_data

schema = a.schema({
    "Project": a.model({
        "name": a.string().required(),
        "tasks": a.has_many("Task", "projectId"),
    }).authorization(lambda allow: [allow.public_api_key(), allow.authenticated()]),
    "Task": a.model({
        "title": a.string().required(),
        "done": a.boolean().default(False),
        "estimate": a.integer(),
        "status": a.enum(["open", "doing", "closed"]),
        "tags": a.string().array(),
        "place": a.ref("Place"),
        "projectId": a.id(),
        "project": a.belongs_to("Project", "projectId"),
    }).authorization(lambda allow: [allow.public_api_key(), allow.authenticated()]),
    "Place": a.custom_type({"city": a.string(), "floor": a.integer()}),
    "Payroll": a.model({
        "employee": a.string().required(),
        "salary": a.float(),
    }).authorization(lambda allow: [allow.group("Admins")]),
})

auth = define_auth(login_with={"email": True}, groups=["Admins", "Staff"], allow_guest_access=True)
data = define_data(schema=schema, authorization_modes={"default_authorization_mode": "api_key"})
