import cookie from '@fastify/cookie'

// Cookies are set unsigned: their values are JWTs (signed already) or a random
// CSRF value compared with a header, so a cookie signature would add nothing.
export const autoConfig = {}

export default cookie
