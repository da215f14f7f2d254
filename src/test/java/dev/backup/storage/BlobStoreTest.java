package dev.backup.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlobStoreTest {
  @TempDir
  Path root;

  @Test
  void commitMovesTheFileIntoPlaceWithItsMetadata() throws Exception {
    BlobStore store = new BlobStore(root);
    store.open();
    Path tmp = store.tempFile("t1-0");
    Files.writeString(tmp, "hello");
    ReplicaMeta meta = new ReplicaMeta("photos/été/a.txt", 2, 5, "abc", 123, 2);
    Path target = store.commit(tmp, meta);
    assertThat(target).isEqualTo(root.resolve("files/photos/été/a.txt.v2"));
    assertThat(Files.readString(target)).isEqualTo("hello");
    assertThat(Files.exists(tmp)).isFalse();
    assertThat(Files.readString(store.metaPath("photos/été/a.txt", 2))).contains("\"sha256\" : \"abc\"");
    assertThat(store.inventory()).containsExactly(meta);
    assertThat(store.tempCount()).isZero();
  }

  @Test
  void openRemovesWhatACrashLeftHalfWritten() throws Exception {
    BlobStore store = new BlobStore(root);
    store.open();
    Files.writeString(store.tempFile("abc-0"), "partial");
    new BlobStore(root).open();
    assertThat(store.tempCount()).isZero();
  }

  @Test
  void namesCannotLeaveTheRoot() {
    BlobStore store = new BlobStore(root);
    assertThatThrownBy(() -> store.replicaPath("../x", 1)).hasMessageContaining("invalid name");
    assertThatThrownBy(() -> store.tempFile("../../etc")).hasMessageContaining("bad transfer id");
  }

  @Test
  void inventorySkipsTornMetadata() throws Exception {
    BlobStore store = new BlobStore(root);
    store.open();
    Files.createDirectories(root.resolve("files"));
    Files.writeString(root.resolve("files/x.v1.meta"), "{not json");
    Files.writeString(root.resolve("files/x.v1"), "x");
    assertThat(store.inventory()).isEmpty();
  }
}
