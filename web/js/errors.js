// Errors the app shows as they are.

/** An error whose message is meant for the person. */
export class UserError extends Error {}

/** A call failure meant for the person (calls.js, calls-group.js). */
export class CallError extends UserError {}
