package dev.backup.server;

import dev.backup.HostileClients;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.backup.InProcessCluster;
import dev.backup.TestSupport;
import dev.backup.client.BackupClient;
import dev.backup.cluster.Ticket;
import dev.backup.config.Config;
import dev.backup.manager.Users;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import dev.backup.protocol.Frame;
import dev.backup.protocol.Op;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A manager with users: each signs in, sees only their own files, and their copies sit under their folder. */
class UsersClusterTest {
  static InProcessCluster cluster;
  static String aliceSecret;
  static String bobSecret;
  static String carolSecret;
  static BackupClient alice;
  static BackupClient bob;

  @TempDir
  static Path dir;

  @BeforeAll
  static void start() {
    Users users = new Users(dir.resolve("manager"));
    aliceSecret = users.add("alice", 1000);
    bobSecret = users.add("bob", 1000);
    carolSecret = users.add("carol", 1000);
    users.setQuota("carol", 100);
    cluster = new InProcessCluster(dir, 3, c -> c.withUser("alice", aliceSecret));
    alice = cluster.client;
    bob = client("bob", bobSecret);
  }

  @AfterAll
  static void stop() {
    bob.close();
    cluster.close();
  }

  static BackupClient client(String user, String secret) {
    return new BackupClient(cluster.vertx, cluster.clientConfig().withUser(user, secret));
  }

  static Path file(String name, String content) throws Exception {
    Path p = dir.resolve("local").resolve(name);
    Files.createDirectories(p.getParent());
    Files.writeString(p, content);
    return p;
  }

  static String restore(BackupClient c, String name, String to) throws Exception {
    JsonObject plan = c.request(new JsonObject().put("op", "restore").put("path", name)).await();
    JsonObject f = plan.getJsonArray("files").getJsonObject(0);
    assertThat(f.getString("name")).isEqualTo(name);
    Path target = dir.resolve("restored").resolve(to);
    Files.createDirectories(target.getParent());
    c.restore(f, target, true, n -> { }).await();
    return Files.readString(target);
  }

  static List<String> names(BackupClient c) {
    List<String> out = new ArrayList<>();
    for (Object o : c.request(new JsonObject().put("op", "list")).await().getJsonArray("files")) {
      out.add(((JsonObject) o).getString("name"));
    }
    return out;
  }

  @Test
  void twoUsersBackUpTheSameNameAndEachGetsTheirOwnBack() throws Exception {
    alice.upload(file("a/notes.txt", "alice's notes").toString(), "same/notes.txt", 2).await();
    bob.upload(file("b/notes.txt", "bob's notes, longer").toString(), "same/notes.txt", 2).await();

    assertThat(restore(alice, "same/notes.txt", "alice-notes.txt")).isEqualTo("alice's notes");
    assertThat(restore(bob, "same/notes.txt", "bob-notes.txt")).isEqualTo("bob's notes, longer");

    // On the servers' disks each user's copies are under their own folder.
    int aliceCopies = 0;
    int bobCopies = 0;
    for (int id = 1; id <= 3; id++) {
      Path files = dir.resolve("server-" + id).resolve("files");
      aliceCopies += Files.exists(files.resolve("alice/same/notes.txt.v1")) ? 1 : 0;
      bobCopies += Files.exists(files.resolve("bob/same/notes.txt.v1")) ? 1 : 0;
      assertThat(files.resolve("same")).doesNotExist();
    }
    assertThat(aliceCopies).isEqualTo(2);
    assertThat(bobCopies).isEqualTo(2);
  }

  @Test
  void aUserSeesOnlyTheirOwnFiles() throws Exception {
    alice.upload(file("a/only-alice.txt", "mine").toString(), "private/only-alice.txt", 1).await();
    assertThat(names(alice)).contains("private/only-alice.txt").noneMatch(n -> n.startsWith("alice/"));
    assertThat(names(bob)).doesNotContain("private/only-alice.txt");

    for (JsonObject req : List.of(
        new JsonObject().put("op", "restore").put("path", "private/only-alice.txt"),
        new JsonObject().put("op", "delete").put("paths", new JsonArray().add("private/only-alice.txt")),
        new JsonObject().put("op", "replicas").put("path", "private/only-alice.txt").put("replicas", 2),
        new JsonObject().put("op", "verify").put("paths", new JsonArray().add("private/only-alice.txt")),
        // A name that reaches out of the user's folder is refused before it is prefixed.
        new JsonObject().put("op", "restore").put("path", "../alice/private/only-alice.txt"))) {
      assertThatThrownBy(() -> bob.request(req).await()).isInstanceOf(BackupException.class)
          .extracting(e -> ((BackupException) e).code()).isIn(ErrorCode.NOT_FOUND, ErrorCode.USAGE);
    }
    assertThat(bob.stat(List.of("private/only-alice.txt")).await()).isEmpty();
    JsonObject verify = bob.request(new JsonObject().put("op", "verify")).await();
    assertThat(verify.getJsonArray("problems").encode()).doesNotContain("only-alice");
    assertThat(restore(alice, "private/only-alice.txt", "only-alice.txt")).isEqualTo("mine");
  }

  @Test
  void aWrongSecretAndAnUnknownUserGetTheSameRefusal() {
    BackupClient wrong = client("alice", bobSecret);
    BackupClient unknown = client("mallory", aliceSecret);
    try {
      BackupException w = refusal(wrong);
      BackupException u = refusal(unknown);
      assertThat(w.code()).isEqualTo(ErrorCode.DENIED);
      assertThat(u.code()).isEqualTo(ErrorCode.DENIED);
      assertThat(w.code().exitCode()).isEqualTo(8);
      assertThat(w.getMessage()).contains("user or secret not accepted");
      assertThat(w.getMessage().replace("'alice'", "X")).isEqualTo(u.getMessage().replace("'mallory'", "X"));
    } finally {
      wrong.close();
      unknown.close();
    }
  }

  @Test
  void anUnauthenticatedRequestIsRefused() {
    BackupClient anonymous = client("alice", null);
    try {
      BackupException e = refusal(anonymous);
      assertThat(e.code()).isEqualTo(ErrorCode.DENIED);
      assertThat(e.getMessage()).contains("BACKUP_SECRET").contains("--secret-file");
      // ping stays open: health checks work without a user.
      assertThat(anonymous.request(new JsonObject().put("op", "ping")).await().getBoolean("ready")).isTrue();
    } finally {
      anonymous.close();
    }
  }

  @Test
  void aTicketForAnotherUsersFileIsRefusedByTheServer() throws Exception {
    alice.upload(file("a/secret.txt", "alice only").toString(), "secret.txt", 1).await();
    JsonObject plan = alice.request(new JsonObject().put("op", "restore").put("path", "secret.txt")).await();
    JsonObject source = plan.getJsonArray("files").getJsonObject(0).getJsonArray("sources").getJsonObject(0);
    Ticket t = Ticket.fromJson(source.getJsonObject("ticket"));
    int port = source.getInteger("port");
    assertThat(t.user()).isEqualTo("alice");
    assertThat(t.name()).isEqualTo("alice/secret.txt");

    // The genuine ticket works.
    assertThat(get(port, t).op()).isEqualTo(Op.RESPONSE);
    // Altered to bob: the signature no longer holds.
    Ticket altered = new Ticket(t.transferId(), t.access(), "bob", t.name(), t.version(), t.size(), t.chain(),
        t.expires(), t.mac());
    assertDenied(get(port, altered));
    // Even a well-signed ticket naming a file outside its user's folder is refused.
    Ticket crossed = Ticket.sign(TestSupport.SECRET, "cross-1", Ticket.GET, "bob", t.name(), t.version(), t.size(),
        t.chain(), t.expires());
    assertDenied(get(port, crossed));
  }

  @Test
  void aQuotaIsRefusedCleanlyWhenItWouldBeExceeded() throws Exception {
    BackupClient carol = client("carol", carolSecret);
    try {
      carol.upload(file("c/one.bin", "x".repeat(60)).toString(), "one.bin", 2).await();
      assertThatThrownBy(() -> carol.upload(file("c/two.bin", "y".repeat(60)).toString(), "two.bin", 2).await())
          .isInstanceOf(BackupException.class)
          .satisfies(e -> {
            assertThat(((BackupException) e).code()).isEqualTo(ErrorCode.QUOTA);
            assertThat(e.getMessage()).contains("quota exceeded").contains("60 of 100 bytes");
          });
      assertThat(names(carol)).containsExactly("one.bin");
      for (int id = 1; id <= 3; id++) {
        assertThat(dir.resolve("server-" + id).resolve("files/carol/two.bin.v1")).doesNotExist();
      }
      // Other users are not limited by carol's quota; room made by a delete is usable again.
      carol.request(new JsonObject().put("op", "delete").put("paths", new JsonArray().add("one.bin"))).await();
      carol.upload(file("c/two.bin", "y".repeat(60)).toString(), "two.bin", 2).await();
      assertThat(names(carol)).containsExactly("two.bin");
    } finally {
      carol.close();
    }
  }

  static void assertDenied(Frame f) {
    assertThat(f.op()).isEqualTo(Op.ERROR);
    assertThat(f.toException().code()).isEqualTo(ErrorCode.DENIED);
  }

  static BackupException refusal(BackupClient c) {
    try {
      c.request(new JsonObject().put("op", "list")).await();
    } catch (BackupException e) {
      return e;
    }
    throw new AssertionError("the manager answered");
  }

  /** Sends a GET with the ticket and returns the server's first frame. */
  static Frame get(int port, Ticket t) throws Exception {
    NetClient nc = HostileClients.netClient(cluster.vertx);
    try {
      return HostileClients.exchange(nc, port,
          new Frame(Op.GET, 1, new JsonObject().put("ticket", t.toJson()).put("offset", 0)).encode());
    } finally {
      nc.close().await();
    }
  }
}
