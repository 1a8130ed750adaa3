/* guard.h: what one client address may hold, and unauthenticated connections in all. */
#include "guard.h"
#include "unit.h"

void test_guard(void)
{
    struct guard_limits l = {3, 5, 2};

    EXPECT(guard_init(&l) == 0);
    /* Per address, all WebSockets: the 4th of 10.0.0.1 is refused, another address is not. */
    for (int i = 0; i < 3; i++) {
        EXPECT(guard_ws_open("10.0.0.1") == GUARD_OK);
        guard_ws_authed("10.0.0.1");
    }
    EXPECT(guard_ws_check("10.0.0.1") == GUARD_ADDRESS_FULL);
    EXPECT(guard_ws_open("10.0.0.1") == GUARD_ADDRESS_FULL);
    EXPECT(guard_ws_open("::ffff:10.0.0.1") == GUARD_ADDRESS_FULL); /* IPv4-mapped: the same */
    EXPECT(guard_ws_open("10.0.0.2") == GUARD_OK);
    EXPECT(guard_ws_unauth_count() == 1);
    /* One IPv6 /64 is one address. */
    EXPECT(guard_ws_open("2001:db8::1") == GUARD_OK);
    EXPECT(guard_ws_open("2001:db8::2") == GUARD_OK);
    EXPECT(guard_ws_open("2001:db8::ffff:1") == GUARD_OK);
    EXPECT(guard_ws_open("2001:db8::3") == GUARD_ADDRESS_FULL);
    EXPECT(guard_ws_open("2001:db8:0:1::1") == GUARD_OK);
    /* Unauthenticated in all: 5 (10.0.0.2, three in 2001:db8::/64, one in 2001:db8:0:1::/64). */
    EXPECT(guard_ws_unauth_count() == 5);
    EXPECT(guard_ws_open("10.0.0.3") == GUARD_UNAUTH_FULL);
    guard_ws_authed("10.0.0.2");
    EXPECT(guard_ws_open("10.0.0.3") == GUARD_OK);
    /* Closing gives the slot back, authenticated or not. */
    guard_ws_closed("10.0.0.1", 1);
    EXPECT(guard_ws_check("10.0.0.1") == GUARD_UNAUTH_FULL); /* the address has room; the total not */
    guard_ws_closed("10.0.0.3", 0);
    EXPECT(guard_ws_unauth_count() == 4);
    EXPECT(guard_ws_open("10.0.0.1") == GUARD_OK);
    /* An address forgotten once it holds nothing, and counted afresh. */
    guard_ws_closed("10.0.0.2", 1);
    EXPECT(guard_ws_check("10.0.0.2") == GUARD_UNAUTH_FULL);
    /* HTTP connections: 2 per address. */
    EXPECT(guard_http_enter("192.0.2.7") == 0);
    EXPECT(guard_http_enter("192.0.2.7") == 0);
    EXPECT(guard_http_enter("192.0.2.7") == -1);
    EXPECT(guard_http_enter("192.0.2.8") == 0);
    guard_http_leave("192.0.2.7");
    EXPECT(guard_http_enter("192.0.2.7") == 0);
    /* Unknown addresses closing change nothing. */
    guard_ws_closed("198.51.100.1", 0);
    guard_http_leave("198.51.100.1");
    EXPECT(guard_ws_unauth_count() == 5);
    guard_shutdown();
    EXPECT(guard_ws_unauth_count() == 0);
    EXPECT(guard_http_enter("192.0.2.7") == 0);
    guard_shutdown();
}
