/** Constants shared across the server. */
export const ENVD_PORT = 49983;
