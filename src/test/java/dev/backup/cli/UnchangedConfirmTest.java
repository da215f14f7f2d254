package dev.backup.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.backup.client.BackupClient;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

/** A file found unchanged from its local record is confirmed against the catalog at the end of a backup. */
class UnchangedConfirmTest {
  private static final String SHA = "a".repeat(64);
  private static final BackupClient.Uploaded UNREAD = new BackupClient.Uploaded("f", 3, 100, SHA, 0, true, true);

  private static JsonObject latest(long version, long size, String sha) {
    return new JsonObject().put("version", version).put("size", size).put("sha256", sha);
  }

  @Test
  void confirmedOnlyIfTheSameVersionWithTheSameBytesIsStillTheLatest() {
    assertThat(ClientCommands.Backup.stillLatest(UNREAD, latest(3, 100, SHA))).isTrue();
    // Deleted meanwhile, a newer version, other bytes under the same number (a catalog rebuilt).
    assertThat(ClientCommands.Backup.stillLatest(UNREAD, null)).isFalse();
    assertThat(ClientCommands.Backup.stillLatest(UNREAD, latest(4, 100, SHA))).isFalse();
    assertThat(ClientCommands.Backup.stillLatest(UNREAD, latest(3, 100, "b".repeat(64)))).isFalse();
    assertThat(ClientCommands.Backup.stillLatest(UNREAD, latest(3, 99, SHA))).isFalse();
    assertThat(ClientCommands.Backup.stillLatest(UNREAD, new JsonObject())).isFalse();
  }
}
