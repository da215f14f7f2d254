package dev.backup.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalFilesTest {
  @TempDir
  Path dir;

  /**
   * A Linux file named {@code a\b.txt} keeps its name (it is not the file b.txt of folder
   * a, which can be there too); the system refuses such a name when it is backed up.
   */
  @Test
  void aBackslashInAFileNameIsKeptNotTurnedIntoAFolder() throws Exception {
    Path root = Files.createDirectories(dir.resolve("root"));
    Files.writeString(root.resolve("a\\b.txt"), "one");
    Files.createDirectories(root.resolve("a"));
    Files.writeString(root.resolve("a/b.txt"), "two");
    LocalFiles local = new LocalFiles(root);

    List<LocalFiles.LocalFile> all = local.all();
    assertThat(all).extracting(LocalFiles.LocalFile::name).containsExactlyInAnyOrder("a\\b.txt", "a/b.txt");
    assertThat(all).filteredOn(f -> f.name().equals("a\\b.txt")).singleElement()
        .extracting(LocalFiles.LocalFile::path).isEqualTo(root.resolve("a\\b.txt"));
    assertThat(local.expand("a\\b.txt")).extracting(LocalFiles.LocalFile::name).containsExactly("a\\b.txt");
    assertThat(local.nameOf("a\\b.txt")).isEqualTo("a\\b.txt");
    assertThatThrownBy(() -> local.remoteName("a\\b.txt")).hasMessageContaining("not \\");
  }

  /** A client root that is a link to a folder shows that folder's files, named relative to it. */
  @Test
  void aRootThatIsALinkToAFolderListsItsFiles() throws Exception {
    Path real = Files.createDirectories(dir.resolve("real"));
    Files.createDirectories(real.resolve("docs"));
    Files.writeString(real.resolve("docs/x.txt"), "x");
    Files.writeString(real.resolve("top.txt"), "t");
    Path link = Files.createSymbolicLink(dir.resolve("link"), real);
    LocalFiles local = new LocalFiles(link);

    assertThat(local.all()).extracting(LocalFiles.LocalFile::name).containsExactly("docs/x.txt", "top.txt");
    assertThat(local.expand("docs")).extracting(LocalFiles.LocalFile::name).containsExactly("docs/x.txt");
    assertThat(local.expand("top.txt")).extracting(LocalFiles.LocalFile::name).containsExactly("top.txt");
    assertThat(local.nameOf("docs/x.txt")).isEqualTo("docs/x.txt");
    assertThatThrownBy(() -> local.nameOf("../outside.txt")).hasMessageContaining("leaves the client root");
  }
}
