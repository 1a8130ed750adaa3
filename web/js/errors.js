// Errors the app shows as they are.

/** An error whose message is meant for the person. */
export class UserError extends Error {}
