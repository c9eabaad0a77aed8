// AuthExchange: the server side of the SASL exchange of one AUTH command
// (RFC 4954) for the mechanisms PLAIN (RFC 4616) and LOGIN, sans-IO.
//
// The server session starts it with the mechanism the client named and
// hands it each response line (the initial response too); the exchange
// decodes the base64 and says whether to send another challenge (334), that
// the credentials are complete (request()), or that the exchange failed,
// with the text for the 501 reply. It verifies nothing: the caller does,
// then Clear()s the request.
#pragma once

#include <string>
#include <string_view>

namespace sluice::smtp {

struct AuthRequest {
  std::string mechanism;  // "PLAIN" or "LOGIN"
  std::string authzid;    // PLAIN's authorisation identity, often empty
  std::string user;
  std::string password;
};

class AuthExchange {
 public:
  enum class Outcome {
    kChallenge,  // send 334 `text`, read the next response
    kComplete,   // request() holds the credentials
    kFailed,     // reply 501 `enhanced` `text`; the exchange is over
  };
  struct Step {
    Outcome outcome;
    std::string_view enhanced;
    std::string_view text;
  };

  // Starts an exchange for `mechanism` (upper-cased), forgetting the last
  // request; false when the mechanism is not supported.
  bool Start(std::string_view mechanism);
  // The challenge for a client that sent no initial response.
  std::string_view FirstChallenge() const;
  // One response line without its CRLF; "*" cancels (RFC 4954 4). Only
  // between a successful Start() and the Step that ends the exchange.
  Step Respond(std::string_view line);
  // Abandons the exchange in progress (the session refused a line).
  void Cancel() { step_ = Expect::kNothing; }

  const AuthRequest& request() const { return request_; }
  // Overwrites the password, then forgets the request.
  void Clear();

 private:
  enum class Expect { kNothing, kPlain, kLoginUser, kLoginPassword };

  Expect step_ = Expect::kNothing;
  AuthRequest request_;
};

}  // namespace sluice::smtp
