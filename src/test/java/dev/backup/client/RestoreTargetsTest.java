package dev.backup.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RestoreTargetsTest {
  @TempDir
  Path root;

  @Test
  void withoutToFilesGoBackToTheirNames() {
    assertThat(RestoreTargets.targets(root, "a/b.txt", true, List.of("a/b.txt"), null))
        .containsEntry("a/b.txt", root.resolve("a/b.txt"));
  }

  @Test
  void anExistingFolderReceivesAFileUnderItsName() throws Exception {
    Files.createDirectories(root.resolve("out"));
    assertThat(RestoreTargets.targets(root, "a/b.txt", true, List.of("a/b.txt"), "out"))
        .containsEntry("a/b.txt", root.resolve("out/b.txt"));
  }

  /**
   * A folder restored a page at a time to a new --to: the first page makes the folder, and
   * the later pages' files still go where the first page's went, not one level down.
   */
  @Test
  void aNewFolderMadeByTheFirstPageStillNamesTheRestoredFolder() throws Exception {
    boolean wasFolder = RestoreTargets.isFolder(root, "back");
    assertThat(RestoreTargets.targets(root, "docs", false, List.of("docs/x.txt"), "back", wasFolder))
        .containsEntry("docs/x.txt", root.resolve("back/x.txt"));
    Files.createDirectories(root.resolve("back"));
    assertThat(RestoreTargets.targets(root, "docs", false, List.of("docs/y/z.txt"), "back", wasFolder))
        .containsEntry("docs/y/z.txt", root.resolve("back/y/z.txt"));
  }

  @Test
  void anExistingFolderReceivesAFolderKeepingItsSubfolders() throws Exception {
    Files.createDirectories(root.resolve("out"));
    assertThat(RestoreTargets.targets(root, "docs", false, List.of("docs/x.txt", "docs/y/z.txt"), "out"))
        .containsEntry("docs/x.txt", root.resolve("out/docs/x.txt"))
        .containsEntry("docs/y/z.txt", root.resolve("out/docs/y/z.txt"));
  }

  @Test
  void anyOtherPathNamesTheFileOrTheFolder() throws Exception {
    assertThat(RestoreTargets.targets(root, "a/b.txt", true, List.of("a/b.txt"), "c.txt"))
        .containsEntry("a/b.txt", root.resolve("c.txt"));
    Files.writeString(root.resolve("existing.txt"), "x");
    assertThat(RestoreTargets.targets(root, "a/b.txt", true, List.of("a/b.txt"), "existing.txt"))
        .containsEntry("a/b.txt", root.resolve("existing.txt"));
    assertThat(RestoreTargets.targets(root, "docs", false, List.of("docs/x.txt", "docs/y/z.txt"), "new"))
        .containsEntry("docs/x.txt", root.resolve("new/x.txt"))
        .containsEntry("docs/y/z.txt", root.resolve("new/y/z.txt"));
    Path abs = root.resolve("abs").toAbsolutePath();
    assertThat(RestoreTargets.targets(root, "a/b.txt", true, List.of("a/b.txt"), abs.toString()))
        .containsEntry("a/b.txt", abs);
  }

  @Test
  void aFolderCannotBeRestoredOntoAFile() throws Exception {
    Files.writeString(root.resolve("file"), "x");
    assertThatThrownBy(() -> RestoreTargets.targets(root, "docs", false, List.of("docs/x.txt"), "file"))
        .hasMessageContaining("is a file");
  }

  /**
   * The catalog holds a file {@code notes} and files under {@code notes/}: restoring
   * {@code notes} --to T puts the file {@code notes} itself where a single file would go
   * (T, or T/notes in an existing folder T), and the others under it as for a folder.
   */
  @Test
  void aFileNamedAsTheFolderItselfGoesWhereASingleFileWould() throws Exception {
    assertThat(RestoreTargets.targets(root, "notes", false, List.of("notes", "notes/a.txt"), "x"))
        .containsEntry("notes", root.resolve("x"))
        .containsEntry("notes/a.txt", root.resolve("x/a.txt"));
    Files.createDirectories(root.resolve("out"));
    assertThat(RestoreTargets.targets(root, "notes", false, List.of("notes", "notes/a.txt"), "out"))
        .containsEntry("notes", root.resolve("out/notes"))
        .containsEntry("notes/a.txt", root.resolve("out/notes/a.txt"));
    assertThat(RestoreTargets.targets(root, "d/notes", false, List.of("d/notes", "d/notes/a.txt"), "y"))
        .containsEntry("d/notes", root.resolve("y"))
        .containsEntry("d/notes/a.txt", root.resolve("y/a.txt"));
  }
}
