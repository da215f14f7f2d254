package dev.backup.manager;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Scram;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UsersTest {
  @TempDir
  Path root;

  @Test
  void noFileMeansNoUsers() {
    assertThat(new Users(root).current()).isEmpty();
  }

  @Test
  void aUserIsStoredAsSaltIterationsAndVerifierOnly() throws Exception {
    Users users = new Users(root);
    String secret = users.add("alice", 1000);
    assertThat(Scram.unb64(secret)).hasSize(32);
    String file = Files.readString(root.resolve(Users.FILE));
    assertThat(file).doesNotContain(secret);
    assertThat(Files.exists(root.resolve(Users.FILE + ".tmp"))).isFalse();
    Users.User u = new Users(root).current().get("alice");
    assertThat(u.iterations()).isEqualTo(1000);
    assertThat(u.storedKey()).isEqualTo(Scram.storedKey(secret, u.salt(), 1000));
  }

  @Test
  void anotherReaderSeesUsersAddedAndRemoved() {
    Users manager = new Users(root);
    assertThat(manager.current()).isEmpty();
    Users admin = new Users(root);
    admin.add("alice", 1000);
    admin.add("bob", 1000);
    assertThat(manager.current().keySet()).containsExactly("alice", "bob");
    admin.remove("alice");
    assertThat(manager.current().keySet()).containsExactly("bob");
  }

  @Test
  void badAndDuplicateNamesAreRefused() {
    Users users = new Users(root);
    users.add("alice", 1000);
    assertThatThrownBy(() -> users.add("alice", 1000)).extracting(e -> ((BackupException) e).code())
        .isEqualTo(ErrorCode.EXISTS);
    for (String bad : new String[] {"", "Alice", "../x", "a/b", "a b", "-x", "x".repeat(33), ".hidden"}) {
      assertThatThrownBy(() -> users.add(bad, 1000)).extracting(e -> ((BackupException) e).code())
          .isEqualTo(ErrorCode.USAGE);
    }
    assertThatThrownBy(() -> users.remove("nobody")).extracting(e -> ((BackupException) e).code())
        .isEqualTo(ErrorCode.NOT_FOUND);
  }

  @Test
  void signInAcceptsTheSecretAndRefusesWrongOrUnknownAlike() {
    Users users = new Users(root);
    String secret = users.add("alice", 1000);
    Map<String, Users.User> known = users.current();

    assertThat(signIn("alice", secret, known)).isEqualTo("alice");
    BackupException wrong = refused("alice", "wrong", known);
    BackupException unknown = refused("mallory", secret, known);
    assertThat(wrong.code()).isEqualTo(ErrorCode.DENIED);
    assertThat(unknown.code()).isEqualTo(ErrorCode.DENIED);
    assertThat(wrong.getMessage()).isEqualTo(unknown.getMessage()).isEqualTo(SignIn.REFUSED);
  }

  @Test
  void anUnknownUserGetsTheSameSaltEachTime() {
    Map<String, Users.User> none = Map.of("alice", new Users.User("alice", new byte[16], 1000, new byte[32], 0));
    JsonObject a = new SignIn("k").hello(hello("mallory"), none);
    JsonObject b = new SignIn("k").hello(hello("mallory"), none);
    assertThat(a.getString("salt")).isEqualTo(b.getString("salt"));
    assertThat(a.getString("nonce")).isNotEqualTo(b.getString("nonce"));
    assertThat(a.getInteger("iterations")).isEqualTo(Scram.DEFAULT_ITERATIONS);
  }

  @Test
  void aProofIsGoodForOneTryOnly() {
    Users users = new Users(root);
    String secret = users.add("alice", 1000);
    SignIn s = new SignIn("k");
    JsonObject c = s.hello(hello("alice"), users.current());
    JsonObject auth = auth("alice", secret, c);
    refusedAuth(s, new JsonObject().put("proof", "AAAA"), users.current());
    assertThatThrownBy(() -> s.auth(auth, users.current())).isInstanceOf(BackupException.class);
    assertThat(s.user()).isNull();
  }

  private static JsonObject hello(String user) {
    return new JsonObject().put("user", user).put("nonce", "client-nonce-0123456789");
  }

  private static JsonObject auth(String user, String secret, JsonObject challenge) {
    String msg = Scram.authMessage(user, "client-nonce-0123456789", challenge.getString("nonce"));
    return new JsonObject().put("proof", Scram.b64(Scram.proof(secret, Scram.unb64(challenge.getString("salt")),
        challenge.getInteger("iterations"), msg)));
  }

  private static String signIn(String user, String secret, Map<String, Users.User> known) {
    SignIn s = new SignIn("k");
    JsonObject c = s.hello(hello(user), known);
    return s.auth(auth(user, secret, c), known).getString("user");
  }

  private static BackupException refused(String user, String secret, Map<String, Users.User> known) {
    SignIn s = new SignIn("k");
    JsonObject c = s.hello(hello(user), known);
    try {
      s.auth(auth(user, secret, c), known);
    } catch (BackupException e) {
      assertThat(s.user()).isNull();
      return e;
    }
    throw new AssertionError("signed in");
  }

  private static void refusedAuth(SignIn s, JsonObject auth, Map<String, Users.User> known) {
    assertThatThrownBy(() -> s.auth(auth, known)).isInstanceOf(BackupException.class);
  }
}
