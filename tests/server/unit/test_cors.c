/* cors.c: the same-host rule of a server given no --origin (an Origin equal to the scheme and
 * the request's own Host, on the listen port). */
#include "cors.h"
#include "unit.h"

void test_cors(void)
{
    /* Reached under any address or name, on the listen port. */
    EXPECT(cors_origin_is_host("http://192.168.1.5:8080", "192.168.1.5:8080", 8080, 0) == 1);
    EXPECT(cors_origin_is_host("http://parley.lan:8080", "parley.lan:8080", 8080, 0) == 1);
    EXPECT(cors_origin_is_host("http://[fd00::5]:8080", "[fd00::5]:8080", 8080, 0) == 1);
    EXPECT(cors_origin_is_host("https://chat.example:8443", "chat.example:8443", 8443, 1) == 1);
    /* No port in Host: the scheme's default. */
    EXPECT(cors_origin_is_host("http://parley.lan", "parley.lan", 80, 0) == 1);
    EXPECT(cors_origin_is_host("https://parley.lan", "parley.lan", 443, 1) == 1);
    EXPECT(cors_origin_is_host("http://[fd00::5]", "[fd00::5]", 80, 0) == 1);
    EXPECT(cors_origin_is_host("http://parley.lan", "parley.lan", 8080, 0) == 0);
    /* Another page: a different host, port or scheme than the request's own. */
    EXPECT(cors_origin_is_host("http://evil.example:8080", "192.168.1.5:8080", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://192.168.1.5:8081", "192.168.1.5:8080", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("https://192.168.1.5:8080", "192.168.1.5:8080", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://192.168.1.5:8080", "192.168.1.5:8080", 8080, 1) == 0);
    /* A Host on another port than the one listened on (a proxy in front: --origin is for that). */
    EXPECT(cors_origin_is_host("http://192.168.1.5:9000", "192.168.1.5:9000", 8080, 0) == 0);
    /* Malformed, or not in the origin form the list takes (lower case, no path). */
    EXPECT(cors_origin_is_host("http://Parley.lan:8080", "Parley.lan:8080", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://a:8080/", "a:8080/", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://a:08080", "a:08080", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://a:080800", "a:080800", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://a:", "a:", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://:8080", ":8080", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://a:1:8080", "a:1:8080", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://fd00::5:8080", "fd00::5:8080", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://x]:8080", "x]:8080", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://[fd00::5]x:8080", "[fd00::5]x:8080", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://a:99999", "a:99999", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://", "", 80, 0) == 0);
    EXPECT(cors_origin_is_host(NULL, "a:8080", 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://a:8080", NULL, 8080, 0) == 0);
    EXPECT(cors_origin_is_host("http://a:8080", "a:8080", 0, 0) == 0);
    EXPECT(cors_origin_is_host("null", "a:8080", 8080, 0) == 0);
}
