// Http2Session against a real HTTP/2 client: nghttp2's client session,
// driven in memory. Each test pumps the bytes between the two until
// neither has anything more to say.
#include "api/http2_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/api/http2_test_client.h"

namespace sluice::api {
namespace {

using Client = testing::Http2TestClient;
using testing::ClientStream;

class Http2SessionTest : public ::testing::Test {
 protected:
  void Make(HttpLimits limits = {}, uint32_t max_streams = 100,
            Http2Session::StreamsBody streams = nullptr) {
    auto session = Http2Session::Create(limits, max_streams, std::move(streams));
    ASSERT_TRUE(session.ok()) << session.status();
    server_ = std::move(*session);
  }

  // Moves bytes both ways until both sides are quiet; returns the requests
  // the server produced.
  std::vector<Http2Request> Pump(Client& client) {
    std::vector<Http2Request> requests;
    for (int round = 0; round < 100000; ++round) {
      const std::string to_server = client.TakeOutput();
      if (!to_server.empty()) {
        const absl::Status status = server_->Feed(to_server, &requests);
        EXPECT_TRUE(status.ok()) << status;
      }
      const std::string to_client = server_->TakeOutput();
      if (!to_client.empty()) client.Feed(to_client);
      if (to_server.empty() && to_client.empty()) break;
    }
    return requests;
  }

  std::unique_ptr<Http2Session> server_;
};

TEST_F(Http2SessionTest, GetIsHandedOutWithPathHeadersAndAnswered) {
  Make();
  Client client;
  const int32_t id = client.Submit("GET", "/healthz?x=1", {{"authorization", "Bearer t"}});
  std::vector<Http2Request> requests = Pump(client);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].stream_id, id);
  EXPECT_EQ(requests[0].error_status, 0);
  EXPECT_EQ(requests[0].request.method, "GET");
  EXPECT_EQ(requests[0].request.target, "/healthz?x=1");
  EXPECT_EQ(requests[0].request.Header("Authorization"), "Bearer t");
  EXPECT_EQ(requests[0].request.Header("host"), "test");
  EXPECT_TRUE(requests[0].request.body.empty());

  EXPECT_TRUE(server_->Respond(id, 401, "application/json", "{\"error\":1}\n",
                               {{"WWW-Authenticate", "Bearer realm=\"sluice\""}}));
  EXPECT_FALSE(server_->Respond(id, 200, "text/plain", "twice"));  // answered already
  Pump(client);
  const ClientStream& s = client.stream(id);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_code, NGHTTP2_NO_ERROR);
  EXPECT_EQ(s.status, 401);
  EXPECT_EQ(s.body, "{\"error\":1}\n");
  EXPECT_EQ(s.headers.at("content-type"), "application/json");
  EXPECT_EQ(s.headers.at("content-length"), "12");
  EXPECT_EQ(s.headers.at("www-authenticate"), "Bearer realm=\"sluice\"");
  EXPECT_FALSE(server_->wants_close());
}

TEST_F(Http2SessionTest, PostBodySplitAcrossManyDataFramesArrivesWhole) {
  Make({.max_header_bytes = 64 << 10, .max_body_bytes = 4 << 20});
  Client client;
  std::string body;
  for (int i = 0; body.size() < (3 << 20); ++i) absl::StrAppend(&body, "line ", i, "\n");
  // 1,000-byte DATA frames; 3 MiB is more than the first windows allow, so
  // it only gets through with the server's WINDOW_UPDATEs.
  const int32_t id =
      client.Submit("POST", "/api/v1/messages", {{"content-type", "application/json"}}, body, 1000);
  std::vector<Http2Request> requests = Pump(client);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].stream_id, id);
  EXPECT_EQ(requests[0].request.method, "POST");
  EXPECT_EQ(requests[0].request.body.size(), body.size());
  EXPECT_TRUE(requests[0].request.body == body);
  EXPECT_GT(client.window_updates, 1);
  EXPECT_TRUE(server_->Respond(id, 200, "application/json", "{}"));
  Pump(client);
  EXPECT_EQ(client.stream(id).status, 200);
}

TEST_F(Http2SessionTest, ConcurrentStreamsAreAnsweredInAnyOrder) {
  Make();
  Client client;
  const int32_t a = client.Submit("GET", "/a");
  const int32_t b = client.Submit("POST", "/b", {}, "body-b");
  const int32_t c = client.Submit("GET", "/c");
  std::vector<Http2Request> requests = Pump(client);
  ASSERT_EQ(requests.size(), 3u);
  std::map<int32_t, std::string> targets;
  for (const Http2Request& r : requests) targets[r.stream_id] = r.request.target;
  EXPECT_EQ(targets[a], "/a");
  EXPECT_EQ(targets[b], "/b");
  EXPECT_EQ(targets[c], "/c");

  EXPECT_TRUE(server_->Respond(c, 200, "text/plain", "answer c"));
  Pump(client);
  EXPECT_TRUE(client.stream(c).closed);
  EXPECT_FALSE(client.stream(a).closed);
  EXPECT_TRUE(server_->Respond(a, 201, "text/plain", "answer a"));
  EXPECT_TRUE(server_->Respond(b, 503, "text/plain", "answer b"));
  Pump(client);
  EXPECT_EQ(client.close_order, (std::vector<int32_t>{c, a, b}));
  EXPECT_EQ(client.stream(a).body, "answer a");
  EXPECT_EQ(client.stream(a).status, 201);
  EXPECT_EQ(client.stream(b).body, "answer b");
  EXPECT_EQ(client.stream(b).status, 503);
  EXPECT_EQ(client.stream(c).body, "answer c");
  EXPECT_FALSE(server_->has_streams());
}

TEST_F(Http2SessionTest, TrailersFollowTheBodyAndEndTheStream) {
  Make();
  Client client;
  const int32_t id = client.Submit("POST", "/sluice.v1.Injection/Inject",
                                   {{"content-type", "application/grpc"}, {"te", "trailers"}},
                                   std::string("\0\0\0\0\0", 5));
  const int32_t empty =
      client.Submit("POST", "/sluice.v1.Injection/Inject", {{"content-type", "application/grpc"}},
                    std::string("\0\0\0\0\0", 5));
  ASSERT_EQ(Pump(client).size(), 2u);
  const std::string message = std::string("\0\0\0\0\3", 5) + "abc";
  EXPECT_TRUE(server_->Respond(id, 200, "application/grpc", message, {},
                               /*head=*/false, {{"grpc-status", "0"}}));
  // No body at all: the trailers still come after the headers.
  EXPECT_TRUE(server_->Respond(empty, 200, "application/grpc", "", {}, /*head=*/false,
                               {{"Grpc-Status", "16"}, {"grpc-message", "no key"}}));
  Pump(client);
  const ClientStream& s = client.stream(id);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_code, NGHTTP2_NO_ERROR);
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.body, message);
  EXPECT_EQ(s.headers.count("content-length"), 0u);
  EXPECT_EQ(s.trailers, (std::map<std::string, std::string>{{"grpc-status", "0"}}));
  const ClientStream& e = client.stream(empty);
  EXPECT_TRUE(e.closed);
  EXPECT_EQ(e.body, "");
  EXPECT_EQ(e.trailers, (std::map<std::string, std::string>{{"grpc-message", "no key"},
                                                            {"grpc-status", "16"}}));
  EXPECT_FALSE(server_->has_streams());
}

TEST_F(Http2SessionTest, HeadGetsTheHeadersWithoutBody) {
  Make();
  Client client;
  const int32_t id = client.Submit("HEAD", "/metrics");
  std::vector<Http2Request> requests = Pump(client);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].request.method, "HEAD");
  EXPECT_TRUE(server_->Respond(id, 200, "text/plain", "metric 1\n", {}, /*head=*/true));
  Pump(client);
  const ClientStream& s = client.stream(id);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_code, NGHTTP2_NO_ERROR);
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.headers.at("content-length"), "9");
  EXPECT_EQ(s.body, "");
}

TEST_F(Http2SessionTest, OversizeBodyIs413ForThatStreamOnly) {
  Make({.max_header_bytes = 64 << 10, .max_body_bytes = 1000});
  Client client;
  // No content-length: judged as the DATA arrives.
  const int32_t big = client.Submit("POST", "/big", {}, std::string(100'000, 'x'), 500);
  // Declared: refused at the headers.
  const int32_t declared =
      client.Submit("POST", "/declared", {{"content-length", "5000"}}, std::string(5000, 'y'), 500);
  const int32_t small = client.Submit("POST", "/small", {}, "tiny");
  std::vector<Http2Request> requests = Pump(client);
  std::map<int32_t, const Http2Request*> by_stream;
  for (const Http2Request& r : requests) by_stream[r.stream_id] = &r;
  ASSERT_EQ(by_stream.size(), 3u);
  EXPECT_EQ(by_stream[big]->error_status, 413);
  EXPECT_TRUE(absl::StrContains(by_stream[big]->error, "1000")) << by_stream[big]->error;
  EXPECT_EQ(by_stream[declared]->error_status, 413);
  EXPECT_EQ(by_stream[small]->error_status, 0);
  EXPECT_EQ(by_stream[small]->request.body, "tiny");
  for (int32_t id : {big, declared}) {
    EXPECT_TRUE(server_->Respond(id, 413, "application/json", "{\"error\":\"too large\"}"));
  }
  EXPECT_TRUE(server_->Respond(small, 200, "text/plain", "ok"));
  Pump(client);
  EXPECT_EQ(client.stream(big).status, 413);
  EXPECT_EQ(client.stream(declared).status, 413);
  EXPECT_EQ(client.stream(small).status, 200);
  EXPECT_TRUE(client.stream(big).closed);
  // The connection lives on.
  EXPECT_FALSE(client.goaway);
  EXPECT_FALSE(server_->wants_close());
  const int32_t after = client.Submit("GET", "/after");
  requests = Pump(client);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].stream_id, after);
}

TEST_F(Http2SessionTest, OversizeHeadersAre431ForThatStream) {
  Make({.max_header_bytes = 1000, .max_body_bytes = 1 << 20});
  Client client;
  const int32_t big = client.Submit("GET", "/big", {{"x-big", std::string(2000, 'h')}});
  const int32_t fine = client.Submit("GET", "/fine", {{"x-small", "s"}});
  std::vector<Http2Request> requests = Pump(client);
  ASSERT_EQ(requests.size(), 2u);
  std::map<int32_t, const Http2Request*> by_stream;
  for (const Http2Request& r : requests) by_stream[r.stream_id] = &r;
  EXPECT_EQ(by_stream[big]->error_status, 431);
  EXPECT_EQ(by_stream[fine]->error_status, 0);
  // SETTINGS_MAX_HEADER_LIST_SIZE was advertised.
  EXPECT_EQ(
      nghttp2_session_get_remote_settings(client.session(), NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE),
      1000u);
  EXPECT_EQ(nghttp2_session_get_remote_settings(client.session(),
                                                NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
            100u);
  EXPECT_TRUE(server_->Respond(big, 431, "application/json", "{}"));
  EXPECT_TRUE(server_->Respond(fine, 200, "application/json", "{}"));
  Pump(client);
  EXPECT_EQ(client.stream(big).status, 431);
  EXPECT_EQ(client.stream(fine).status, 200);
  EXPECT_FALSE(client.goaway);
}

TEST_F(Http2SessionTest, StreamsBeyondTheConcurrencyLimitAreRefused) {
  Make({}, /*max_streams=*/2);
  Client client;
  Pump(client);  // the SETTINGS exchange: the client now knows the limit
  const int32_t a = client.Submit("GET", "/a");
  const int32_t b = client.Submit("GET", "/b");
  std::vector<Http2Request> requests = Pump(client);
  EXPECT_EQ(requests.size(), 2u);
  const int32_t c = client.Submit("GET", "/c");
  requests = Pump(client);
  EXPECT_TRUE(requests.empty());  // waits for a free slot
  EXPECT_TRUE(server_->Respond(a, 200, "text/plain", "a"));
  requests = Pump(client);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].stream_id, c);
  EXPECT_TRUE(server_->Respond(b, 200, "text/plain", "b"));
  EXPECT_TRUE(server_->Respond(c, 200, "text/plain", "c"));
  Pump(client);
  EXPECT_EQ(client.stream(c).body, "c");
}

TEST_F(Http2SessionTest, GarbageAfterThePrefaceIsAGoawayAndClose) {
  Make();
  std::string bytes(NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN);
  bytes += "this is not an HTTP/2 frame, just text\r\n";
  std::vector<Http2Request> requests;
  (void)server_->Feed(bytes, &requests);
  EXPECT_TRUE(requests.empty());
  // Read what the server said with a client session.
  Client client;
  client.TakeOutput();
  const std::string out = server_->TakeOutput();
  nghttp2_session_mem_recv(client.session(), reinterpret_cast<const uint8_t*>(out.data()),
                           out.size());
  EXPECT_TRUE(client.goaway);
  EXPECT_NE(client.goaway_code, NGHTTP2_NO_ERROR);
  EXPECT_TRUE(server_->wants_close());
}

TEST_F(Http2SessionTest, BadPrefaceFailsTheSession) {
  Make();
  std::vector<Http2Request> requests;
  EXPECT_FALSE(server_->Feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n", &requests).ok());
  EXPECT_TRUE(requests.empty());
  server_->TakeOutput();
  EXPECT_TRUE(server_->wants_close());
}

TEST_F(Http2SessionTest, LargeResponseGoesOutAsTheClientWindowAllows) {
  Make();
  constexpr int32_t kWindow = 4096;
  Client client(kWindow);
  const int32_t id = client.Submit("GET", "/metrics");
  Pump(client);
  std::string body;
  for (int i = 0; body.size() < 1'000'000; ++i) absl::StrAppend(&body, "metric_", i, " 1\n");
  ASSERT_TRUE(server_->Respond(id, 200, "text/plain", body));
  // Before any WINDOW_UPDATE, no more than the stream window goes out.
  client.Feed(server_->TakeOutput());
  EXPECT_GT(client.data_bytes, 0u);
  EXPECT_LE(client.data_bytes, static_cast<size_t>(kWindow));
  EXPECT_TRUE(server_->TakeOutput().empty());  // blocked on the window
  Pump(client);
  const ClientStream& s = client.stream(id);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.body.size(), body.size());
  EXPECT_TRUE(s.body == body);
}

TEST_F(Http2SessionTest, ResetStreamDropsTheAnswer) {
  Make();
  Client client;
  const int32_t id = client.Submit("GET", "/slow");
  ASSERT_EQ(Pump(client).size(), 1u);
  nghttp2_submit_rst_stream(client.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  Pump(client);
  EXPECT_FALSE(server_->has_streams());
  EXPECT_FALSE(server_->Respond(id, 200, "text/plain", "late"));
  Pump(client);
  EXPECT_FALSE(server_->wants_close());
}

TEST_F(Http2SessionTest, IncompleteRequestsCanBeTakenAndAnswered) {
  Make();
  Client client;
  const int32_t slow = client.Submit("POST", "/slow", {}, "", 16384, /*defer_upload=*/true);
  const int32_t done = client.Submit("GET", "/done");
  std::vector<Http2Request> requests = Pump(client);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].stream_id, done);
  EXPECT_EQ(server_->IncompleteStreams(), std::vector<int32_t>{slow});
  EXPECT_TRUE(server_->Abandon(slow));
  EXPECT_FALSE(server_->Abandon(slow));
  EXPECT_FALSE(server_->Abandon(done));
  EXPECT_TRUE(server_->IncompleteStreams().empty());
  EXPECT_TRUE(server_->Respond(slow, 408, "application/json", "{}"));
  Pump(client);
  EXPECT_EQ(client.stream(slow).status, 408);
  EXPECT_TRUE(client.stream(slow).closed);
}

TEST_F(Http2SessionTest, ShutdownSendsGoawayAndClosesOnceStreamsAreDone) {
  Make();
  Client client;
  const int32_t id = client.Submit("GET", "/a");
  ASSERT_EQ(Pump(client).size(), 1u);
  server_->Shutdown();
  Pump(client);
  EXPECT_TRUE(client.goaway);
  EXPECT_EQ(client.goaway_code, NGHTTP2_NO_ERROR);
  EXPECT_FALSE(server_->wants_close());  // stream `id` is owed its answer
  EXPECT_TRUE(server_->Respond(id, 200, "text/plain", "a"));
  Pump(client);
  EXPECT_EQ(client.stream(id).body, "a");
  EXPECT_TRUE(server_->wants_close());
}

// Requests to /stream stream their bodies.
Http2Session::StreamsBody StreamPath() {
  return [](const HttpRequest& request) { return request.target == "/stream"; };
}

std::string DataOf(const std::vector<Http2Request>& events, int32_t id) {
  std::string data;
  for (const Http2Request& e : events) {
    if (e.stream_id == id && e.event == Http2Event::kData) data += e.data;
  }
  return data;
}

int Count(const std::vector<Http2Request>& events, int32_t id, Http2Event kind) {
  return static_cast<int>(std::count_if(events.begin(), events.end(), [&](const Http2Request& e) {
    return e.stream_id == id && e.event == kind;
  }));
}

TEST_F(Http2SessionTest, StreamingRequestComesAsHeadersThenDataThenEnd) {
  Make({}, 100, StreamPath());
  Client client;
  const int32_t id = client.Submit("POST", "/stream", {{"content-type", "application/grpc"}},
                                   std::string(40000, 'x'), 1000);
  const int32_t plain = client.Submit("POST", "/plain", {}, "whole");
  std::vector<Http2Request> events = Pump(client);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].stream_id, id);
  EXPECT_EQ(events[0].event, Http2Event::kRequest);
  EXPECT_TRUE(events[0].streaming);
  EXPECT_EQ(events[0].request.target, "/stream");
  EXPECT_EQ(events[0].request.Header("content-type"), "application/grpc");
  EXPECT_TRUE(events[0].request.body.empty());
  EXPECT_EQ(DataOf(events, id), std::string(40000, 'x'));
  EXPECT_EQ(Count(events, id, Http2Event::kEnd), 1);
  // The end comes after the last of the data.
  int last_data = -1, end = -1;
  for (int i = 0; i < static_cast<int>(events.size()); ++i) {
    if (events[i].stream_id != id) continue;
    if (events[i].event == Http2Event::kData) last_data = i;
    if (events[i].event == Http2Event::kEnd) end = i;
  }
  EXPECT_GT(end, last_data);
  // Other requests on the connection are whole, as ever.
  const auto whole = std::find_if(events.begin(), events.end(),
                                  [&](const Http2Request& e) { return e.stream_id == plain; });
  ASSERT_NE(whole, events.end());
  EXPECT_FALSE(whole->streaming);
  EXPECT_EQ(whole->request.body, "whole");
  server_->Consume(id, 40000);

  // The answer in pieces, then trailers.
  ASSERT_TRUE(server_->StartResponse(id, 200, "application/grpc", {{"X-One", "1"}}));
  EXPECT_FALSE(server_->Respond(id, 200, "text/plain", "again"));  // started already
  Pump(client);
  EXPECT_EQ(client.stream(id).status, 200);
  EXPECT_FALSE(client.stream(id).closed);
  EXPECT_TRUE(server_->SendData(id, "first "));
  Pump(client);
  EXPECT_EQ(client.stream(id).body, "first ");
  EXPECT_TRUE(server_->SendData(id, "second"));
  EXPECT_TRUE(server_->EndResponse(id, {{"grpc-status", "0"}}));
  EXPECT_FALSE(server_->SendData(id, "late"));
  Pump(client);
  const ClientStream& s = client.stream(id);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_code, NGHTTP2_NO_ERROR);
  EXPECT_EQ(s.body, "first second");
  EXPECT_EQ(s.headers.at("x-one"), "1");
  EXPECT_EQ(s.headers.count("content-length"), 0u);
  EXPECT_EQ(s.trailers.at("grpc-status"), "0");
}

TEST_F(Http2SessionTest, StreamingBodyWaitsForTheCallerToConsumeIt) {
  Make({}, 100, StreamPath());
  Client client;
  constexpr size_t kBody = 5 << 20;  // five stream windows
  const int32_t id = client.Submit("POST", "/stream", {}, std::string(kBody, 'y'));
  std::vector<Http2Request> events = Pump(client);
  // Nothing consumed: no more than the 1 MiB stream window arrives.
  const size_t first = DataOf(events, id).size();
  EXPECT_GT(first, 0u);
  EXPECT_LE(first, size_t{1} << 20);
  EXPECT_EQ(Count(events, id, Http2Event::kEnd), 0);
  EXPECT_TRUE(Pump(client).empty());  // and the client stays blocked
  // Consuming as it comes lets all of it through.
  size_t received = first;
  server_->Consume(id, first);
  for (int round = 0; round < 100 && received < kBody; ++round) {
    std::vector<Http2Request> more = Pump(client);
    const size_t n = DataOf(more, id).size();
    received += n;
    server_->Consume(id, n);
    if (Count(more, id, Http2Event::kEnd) == 1) {
      EXPECT_EQ(received, kBody);
    }
  }
  EXPECT_EQ(received, kBody);
}

TEST_F(Http2SessionTest, ResetOfAStreamingRequestIsAnEvent) {
  Make({}, 100, StreamPath());
  Client client;
  const int32_t id = client.Submit("POST", "/stream", {}, "", 16384, /*defer_upload=*/true);
  ASSERT_EQ(Pump(client).size(), 1u);
  ASSERT_TRUE(server_->StartResponse(id, 200, "application/grpc"));
  nghttp2_submit_rst_stream(client.session(), NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  std::vector<Http2Request> events = Pump(client);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].stream_id, id);
  EXPECT_EQ(events[0].event, Http2Event::kReset);
  EXPECT_FALSE(server_->SendData(id, "gone"));
  EXPECT_FALSE(server_->has_streams());
}

TEST_F(Http2SessionTest, StreamingAnswerThatEndsFirstStopsTheUpload) {
  Make({}, 100, StreamPath());
  Client client;
  const int32_t id = client.Submit("POST", "/stream", {}, "", 16384, /*defer_upload=*/true);
  ASSERT_EQ(Pump(client).size(), 1u);
  ASSERT_TRUE(server_->StartResponse(id, 200, "application/grpc"));
  ASSERT_TRUE(server_->EndResponse(id, {{"grpc-status", "3"}}));
  EXPECT_TRUE(Pump(client).empty());  // no reset event: the answer had ended
  const ClientStream& s = client.stream(id);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_code, NGHTTP2_NO_ERROR);
  EXPECT_EQ(s.trailers.at("grpc-status"), "3");
  EXPECT_FALSE(server_->has_streams());
}

}  // namespace
}  // namespace sluice::api
