#include "smtp/command.h"

#include <gtest/gtest.h>

namespace sluice::smtp {
namespace {

TEST(CommandTest, VerbsAreCaseInsensitive) {
  for (std::string_view line : {"quit", "QUIT", "QuIt"}) {
    absl::StatusOr<Command> command = ParseCommand(line);
    ASSERT_TRUE(command.ok());
    EXPECT_EQ(command->verb, Verb::kQuit);
  }
}

TEST(CommandTest, UnknownVerbIsNotAnError) {
  absl::StatusOr<Command> command = ParseCommand("XYZZY now");
  ASSERT_TRUE(command.ok());
  EXPECT_EQ(command->verb, Verb::kUnknown);
  command = ParseCommand("");
  ASSERT_TRUE(command.ok());
  EXPECT_EQ(command->verb, Verb::kUnknown);
}

TEST(CommandTest, EhloAndHeloNeedOneArgument) {
  absl::StatusOr<Command> command = ParseCommand("EHLO client.example");
  ASSERT_TRUE(command.ok());
  EXPECT_EQ(command->verb, Verb::kEhlo);
  EXPECT_EQ(command->argument, "client.example");
  EXPECT_TRUE(ParseCommand("HELO [192.0.2.1]").ok());
  EXPECT_FALSE(ParseCommand("EHLO").ok());
  EXPECT_FALSE(ParseCommand("HELO ").ok());
  EXPECT_FALSE(ParseCommand("EHLO a b").ok());
  EXPECT_FALSE(ParseCommand("EHLO a\tb").ok());
  EXPECT_FALSE(ParseCommand("EHLO a\x7f").ok());
  EXPECT_FALSE(ParseCommand("EHLO a\xC3").ok());
  EXPECT_TRUE(ParseCommand("EHLO b\xC3\xBC"
                           "cher.test")
                  .ok());
}

TEST(CommandTest, MailWithParameters) {
  absl::StatusOr<Command> command =
      ParseCommand("MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8 ENVID=x+2By");
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ(command->verb, Verb::kMail);
  EXPECT_EQ(command->path.ToString(), "a@b.example");
  ASSERT_EQ(command->params.size(), 4u);
  EXPECT_EQ(command->params[0].keyword, "SIZE");
  EXPECT_EQ(command->params[0].value, "1000");
  EXPECT_EQ(command->params[2].keyword, "SMTPUTF8");
  EXPECT_FALSE(command->params[2].has_value);
  EXPECT_EQ(command->params[3].value, "x+2By");
}

TEST(CommandTest, MailToleratesSpaceAfterColonAndLowerCase) {
  absl::StatusOr<Command> command = ParseCommand("mail from: <>");
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_TRUE(command->path.IsNull());
}

TEST(CommandTest, MalformedMailAndRcpt) {
  EXPECT_FALSE(ParseCommand("MAIL <a@b.c>").ok());
  EXPECT_FALSE(ParseCommand("MAIL FROM:a@b.c").ok());
  EXPECT_FALSE(ParseCommand("MAIL FROM:<a@b.c>SIZE=1").ok());
  EXPECT_FALSE(ParseCommand("MAIL FROM:<a@b.c> =1").ok());
  EXPECT_FALSE(ParseCommand("MAIL FROM:<a@b.c> SIZE=").ok());
  EXPECT_FALSE(ParseCommand("MAIL FROM:<a@b.c> -X=1").ok());
  EXPECT_FALSE(ParseCommand("MAIL FROM:<a@b.c> X=a=b").ok());
  EXPECT_FALSE(ParseCommand("RCPT TO:<>").ok());
  EXPECT_FALSE(ParseCommand("RCPT FROM:<a@b.c>").ok());
  absl::StatusOr<Command> command = ParseCommand("RCPT TO:<postmaster>");
  ASSERT_TRUE(command.ok());
  EXPECT_EQ(command->path.ToString(), "postmaster");
}

TEST(CommandTest, RcptWithDsnParameters) {
  absl::StatusOr<Command> command =
      ParseCommand("RCPT TO:<x@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+40y.example");
  ASSERT_TRUE(command.ok()) << command.status();
  ASSERT_EQ(command->params.size(), 2u);
  EXPECT_EQ(command->params[0].keyword, "NOTIFY");
  EXPECT_EQ(command->params[1].value, "rfc822;x+40y.example");
}

TEST(CommandTest, CommandsWithoutArguments) {
  EXPECT_TRUE(ParseCommand("DATA").ok());
  EXPECT_TRUE(ParseCommand("DATA ").ok());
  EXPECT_FALSE(ParseCommand("DATA now").ok());
  EXPECT_FALSE(ParseCommand("RSET x").ok());
  EXPECT_FALSE(ParseCommand("STARTTLS x").ok());
  EXPECT_TRUE(ParseCommand("NOOP anything goes").ok());
  EXPECT_TRUE(ParseCommand("HELP").ok());
  EXPECT_FALSE(ParseCommand("VRFY").ok());
}

TEST(CommandTest, Bdat) {
  absl::StatusOr<Command> command = ParseCommand("BDAT 1024");
  ASSERT_TRUE(command.ok());
  EXPECT_EQ(command->chunk_size, 1024u);
  EXPECT_FALSE(command->last);
  command = ParseCommand("bdat 0 last");
  ASSERT_TRUE(command.ok());
  EXPECT_EQ(command->chunk_size, 0u);
  EXPECT_TRUE(command->last);
  EXPECT_FALSE(ParseCommand("BDAT").ok());
  EXPECT_FALSE(ParseCommand("BDAT -1").ok());
  EXPECT_FALSE(ParseCommand("BDAT 10 FIRST").ok());
  EXPECT_FALSE(ParseCommand("BDAT 9999999999999999999").ok());
}

TEST(CommandTest, Auth) {
  absl::StatusOr<Command> command = ParseCommand("AUTH plain AHVzZXIAcGFzcw==");
  ASSERT_TRUE(command.ok());
  EXPECT_EQ(command->argument, "PLAIN");
  EXPECT_TRUE(command->has_initial_response);
  EXPECT_EQ(command->initial_response, "AHVzZXIAcGFzcw==");
  command = ParseCommand("AUTH LOGIN");
  ASSERT_TRUE(command.ok());
  EXPECT_FALSE(command->has_initial_response);
  EXPECT_FALSE(ParseCommand("AUTH").ok());
  EXPECT_FALSE(ParseCommand("AUTH PLAIN a b").ok());
}

}  // namespace
}  // namespace sluice::smtp
