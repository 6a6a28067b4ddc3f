// protocol::utf8_target: the path and every query parameter of a request target, judged once
// percent-decoded.
#include <gtest/gtest.h>

#include "protocol/query.hpp"

using sig::protocol::utf8_target;

TEST(QueryUtf8, AcceptsUtf8EscapedOrRaw) {
  EXPECT_TRUE(utf8_target("/api/sessions/s1"));
  EXPECT_TRUE(utf8_target("/api/sessions/%C3%A9t%C3%A9?x=%F0%9F%8E%89&y"));
  EXPECT_TRUE(utf8_target("/api/sessions/été?name=Zoë"));
  EXPECT_TRUE(utf8_target("/ws/signaling?token=a.b.c&sessionId=s%201"));
  EXPECT_TRUE(utf8_target(""));
  EXPECT_TRUE(utf8_target("/x?%ZZ=1")) << "a bad escape is judged on its raw bytes (ASCII here)";
}

TEST(QueryUtf8, RefusesInvalidSequencesInThePathANameOrAValue) {
  for (const auto* t :
       {"/api/sessions/%FF", "/api/sessions/s1/participants/%C0%AF", "/a/%ED%A0%80", "/a/%F4%90%80%80",
        "/a/%E2%82", "/a/\xFF", "/a?x=%FF", "/a?%FF=1", "/a?x=1&y=%C3", "/a?x=%ZZ&y=%FF", "/a?x=%ZZ\xFF"}) {
    EXPECT_FALSE(utf8_target(t)) << t;
  }
  // A sequence split by a separator is two invalid halves, not one valid character.
  EXPECT_FALSE(utf8_target("/a?x=%C3&%A9"));
  EXPECT_FALSE(utf8_target("/a?x=%C3=%A9"));
}
