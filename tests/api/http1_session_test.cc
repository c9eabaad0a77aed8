#include "api/http1_session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace sluice::api {
namespace {

TEST(Http1SessionTest, ParsesRequestSplitAtEveryByte) {
  const std::string wire =
      "POST /api/v1/messages?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
      "X-Long-Header-Name: some value\r\n\r\nhello";
  Http1Session session;
  std::vector<HttpRequest> requests;
  for (char c : wire) ASSERT_TRUE(session.Feed(absl::string_view(&c, 1), &requests).ok());
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/api/v1/messages?x=1");
  EXPECT_EQ(requests[0].Header("x-long-header-name"), "some value");
  EXPECT_EQ(requests[0].Header("HOST"), "a");
  EXPECT_EQ(requests[0].body, "hello");
  EXPECT_TRUE(requests[0].keep_alive);
}

TEST(Http1SessionTest, PipelinedRequestsComeOutInOrder) {
  Http1Session session;
  std::vector<HttpRequest> requests;
  ASSERT_TRUE(session
                  .Feed("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                        &requests)
                  .ok());
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].target, "/a");
  EXPECT_EQ(requests[1].target, "/b");
  EXPECT_EQ(requests[2].target, "/c");
  EXPECT_TRUE(requests[1].keep_alive);
  EXPECT_FALSE(requests[2].keep_alive);
}

TEST(Http1SessionTest, DecodesChunkedBody) {
  Http1Session session;
  std::vector<HttpRequest> requests;
  ASSERT_TRUE(session
                  .Feed("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                        &requests)
                  .ok());
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].body, "hello world");
}

TEST(Http1SessionTest, Http10WithoutKeepAliveCloses) {
  Http1Session session;
  std::vector<HttpRequest> requests;
  ASSERT_TRUE(session.Feed("GET /healthz HTTP/1.0\r\n\r\n", &requests).ok());
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].keep_alive);
}

TEST(Http1SessionTest, MalformedRequestIs400AndSessionStaysFailed) {
  Http1Session session;
  std::vector<HttpRequest> requests;
  absl::Status status = session.Feed("GET / HTTP/1.1\r\nBad Header\r\n\r\n", &requests);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(Http1Session::StatusForError(status), 400);
  EXPECT_FALSE(session.Feed("GET / HTTP/1.1\r\n\r\n", &requests).ok());
  EXPECT_TRUE(requests.empty());
}

TEST(Http1SessionTest, DeclaredOversizeBodyIs413BeforeReadingIt) {
  HttpLimits limits;
  limits.max_body_bytes = 10;
  Http1Session session(limits);
  std::vector<HttpRequest> requests;
  absl::Status status =
      session.Feed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", &requests);
  EXPECT_EQ(Http1Session::StatusForError(status), 413) << status;
}

TEST(Http1SessionTest, ChunkedBodyPastLimitIs413) {
  HttpLimits limits;
  limits.max_body_bytes = 8;
  Http1Session session(limits);
  std::vector<HttpRequest> requests;
  absl::Status status = session.Feed(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n",
      &requests);
  EXPECT_EQ(Http1Session::StatusForError(status), 413) << status;
}

TEST(Http1SessionTest, OversizeHeadersAre431) {
  HttpLimits limits;
  limits.max_header_bytes = 100;
  Http1Session session(limits);
  std::vector<HttpRequest> requests;
  absl::Status status = session.Feed(
      absl::StrCat("GET / HTTP/1.1\r\nX-Big: ", std::string(200, 'a'), "\r\n\r\n"), &requests);
  EXPECT_EQ(Http1Session::StatusForError(status), 431) << status;
}

TEST(Http1SessionTest, FormatsResponseWithLengthAndClose) {
  EXPECT_EQ(Http1Session::FormatResponse(200, "text/plain", "ok\n", true),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n");
  EXPECT_EQ(Http1Session::FormatResponse(404, "text/plain", "", false),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n");
}

}  // namespace
}  // namespace sluice::api
