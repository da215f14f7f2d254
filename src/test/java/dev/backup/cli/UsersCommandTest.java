package dev.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.TestSupport;
import dev.backup.TestSupport.Run;
import dev.backup.manager.Users;
import dev.backup.protocol.Scram;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UsersCommandTest {
  @TempDir
  Path dir;

  Run run(String... args) {
    return TestSupport.command(Map.of(), args);
  }

  @Test
  void addPrintsTheSecretOnceAndStoresOnlyItsVerifier() throws Exception {
    String root = dir.resolve("manager").toString();
    Run add = run("--role=manager", "--root", root, "users", "add", "alice");
    assertThat(add.code()).as(add.err()).isZero();
    String secret = add.out().strip();
    assertThat(Scram.unb64(secret)).hasSize(32);
    assertThat(add.err()).contains("shown only now").doesNotContain(secret);
    assertThat(Files.readString(dir.resolve("manager/users.json"))).doesNotContain(secret);
    Users.User u = new Users(dir.resolve("manager")).current().get("alice");
    assertThat(u.storedKey()).isEqualTo(Scram.storedKey(secret, u.salt(), u.iterations()));

    Run again = run("--role=manager", "--root", root, "users", "add", "alice");
    assertThat(again.code()).isEqualTo(11);
    Run list = run("--role=manager", "--root", root, "users", "list");
    assertThat(list.out().strip()).isEqualTo("alice");
    Run remove = run("--role=manager", "--root", root, "users", "remove", "alice");
    assertThat(remove.code()).isZero();
    assertThat(run("--role=manager", "--root", root, "users", "list").out()).isBlank();
  }

  @Test
  void badNamesAndOtherRolesAreRefused() {
    String root = dir.resolve("manager").toString();
    assertThat(run("--role=manager", "--root", root, "users", "add", "../evil").code()).isEqualTo(2);
    Run client = run("--role=client", "--root", root, "users", "add", "alice");
    assertThat(client.code()).isEqualTo(2);
    assertThat(client.err()).contains("--role=manager");
    assertThat(Files.exists(dir.resolve("manager/users.json"))).isFalse();
  }

  @Test
  void aNameWhoseFolderAlreadyHoldsFilesIsRefused() throws Exception {
    Path root = dir.resolve("manager");
    Files.createDirectories(root);
    // A catalog of the open mode holding bob/notes.txt in the unnamed namespace.
    dev.backup.manager.Catalog c = new dev.backup.manager.Catalog();
    c.commit("bob/notes.txt", 1, new dev.backup.manager.Catalog.Version(1, 3, "00", 0, java.util.List.of(1)));
    Files.writeString(root.resolve("catalog.json"), c.snapshot().encode());
    Run add = run("--role=manager", "--root", root.toString(), "users", "add", "bob");
    assertThat(add.code()).isEqualTo(11);
    assertThat(add.err()).contains("bob/");
    assertThat(run("--role=manager", "--root", root.toString(), "users", "add", "alice").code()).isZero();
  }
}
