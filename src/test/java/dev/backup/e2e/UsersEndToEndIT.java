package dev.backup.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real jar: an admin creates a user on the manager's host, the user backs up and lists with its secret. */
class UsersEndToEndIT {
  @TempDir
  static Path dir;
  static ClusterProcesses cluster;

  @BeforeAll
  static void start() throws Exception {
    cluster = ClusterProcesses.start(dir, 2);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aUserCreatedOnTheManagerBacksUpAndListsWithItsSecret() throws Exception {
    ClusterProcesses.Result added = cluster.managerCommand("users", "add", "alice");
    assertThat(added.exit()).as(added.err()).isZero();
    String secret = added.out().strip();
    assertThat(secret).matches("[A-Za-z0-9_-]{43}");
    assertThat(Files.readString(cluster.root("manager").resolve("users.json"))).doesNotContain(secret);
    // The running manager looks at its users file at most once a second.
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> {
      try {
        cluster.fastRequest(new io.vertx.core.json.JsonObject().put("op", "list"));
        return false;
      } catch (dev.backup.protocol.BackupException e) {
        return e.code() == dev.backup.protocol.ErrorCode.DENIED;
      }
    });

    Files.createDirectories(cluster.clientRoot());
    Files.writeString(cluster.clientRoot().resolve("mine.txt"), "alice's file");
    Map<String, String> asAlice = Map.of("BACKUP_USER", "alice", "BACKUP_SECRET", secret);
    ClusterProcesses.Result backup = cluster.clientWithEnv(asAlice, "backup", "mine.txt");
    assertThat(backup.exit()).as(backup.err()).isZero();
    ClusterProcesses.Result list = cluster.clientWithEnv(asAlice, "list", "--json");
    assertThat(list.exit()).as(list.err()).isZero();
    assertThat(list.json().getJsonArray("files").getJsonObject(0).getString("name")).isEqualTo("mine.txt");

    // A wrong secret and no secret at all: refused, exit 8, one line.
    ClusterProcesses.Result wrong = cluster.clientWithEnv(Map.of("BACKUP_USER", "alice", "BACKUP_SECRET", "guess"),
        "list");
    assertThat(wrong.exit()).isEqualTo(8);
    assertThat(wrong.err()).contains("user or secret not accepted");
    ClusterProcesses.Result none = cluster.clientWithEnv(Map.of("BACKUP_USER", "alice"), "list");
    assertThat(none.exit()).isEqualTo(8);
    assertThat(none.err()).contains("BACKUP_SECRET");

    // Its copies are under alice's folder on the servers.
    long copies = 0;
    for (int id = 1; id <= 2; id++) {
      copies += Files.exists(cluster.serverRoot(id).resolve("files/alice/mine.txt.v1")) ? 1 : 0;
    }
    assertThat(copies).isEqualTo(2);
  }
}
