package dev.backup.cli;

import dev.backup.client.BackupClient;
import dev.backup.client.Format;
import dev.backup.client.LocalFiles;
import dev.backup.protocol.BackupException;
import dev.backup.protocol.ErrorCode;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** The client's commands: the same classes serve one-shot runs and the REPL. */
final class ClientCommands {
  private ClientCommands() {
  }

  /** Adds every client command, sharing one session, to a command line (one-shot or REPL). */
  static void addAll(picocli.CommandLine cmd, ClientSession s) {
    cmd.addSubcommand(new Backup(s));
    cmd.addSubcommand(new Restore(s));
    cmd.addSubcommand(new ListFiles(s));
    cmd.addSubcommand(new Status(s));
    cmd.addSubcommand(new Replicas(s));
    cmd.addSubcommand(new Delete(s));
    cmd.addSubcommand(new Verify(s));
    cmd.addSubcommand(new Files(s));
  }


  abstract static class Base implements Callable<Integer> {
    @Spec
    CommandSpec spec;
    final ClientSession session;

    Base(ClientSession session) {
      this.session = session;
    }

    PrintWriter out() {
      return spec.commandLine().getOut();
    }

    PrintWriter err() {
      return spec.commandLine().getErr();
    }
  }

  @Command(name = "backup", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
      description = "Back up files or whole folders of the client root (paths relative to it).")
  static final class Backup extends Base {
    @Parameters(arity = "1..*", paramLabel = "PATH", description = "files or folders, relative to the client root")
    List<String> paths;

    @Option(names = {"--replicas", "-r"}, paramLabel = "R", description = "copies to keep (default: ${DEFAULT-VALUE} or the configured default)")
    Integer replicas;

    @Option(names = "--reread", description = "read every file to compare it with its latest version, "
        + "even one known unchanged from the client's record of it")
    boolean reread;

    Backup(ClientSession session) {
      super(session);
    }

    @Override
    public Integer call() {
      int r = replicas != null ? replicas : session.config().defaultReplicas();
      if (r < 1) {
        throw new BackupException(ErrorCode.USAGE, "--replicas must be at least 1, not " + r);
      }
      LocalFiles local = session.local();
      java.util.Set<String> scopes = new java.util.HashSet<>();
      List<LocalFiles.LocalFile> files = pick(local, paths, scopes);
      BackupClient client = session.client();
      client.resetCancel();
      // What this client knows of its files' checksums: an unchanged file is not read again.
      dev.backup.client.LocalHashes records = session.localHashes();
      if (reread) {
        records.rereading();
      }
      List<String> names = files.stream().map(LocalFiles.LocalFile::name).toList();
      scopes.forEach(scope -> records.listed(scope, names));
      client.useLocalHashes(records);
      try {
        return backUp(client, files, r);
      } finally {
        client.useLocalHashes(dev.backup.client.LocalHashes.none());
        records.save();
      }
    }

    private int backUp(BackupClient client, List<LocalFiles.LocalFile> files, int r) {
      JsonObject latest = client.stat(files.stream().map(LocalFiles.LocalFile::name).toList()).await();
      long totalBytes = files.stream().mapToLong(LocalFiles.LocalFile::size).sum();
      String task = files.size() == 1 ? files.get(0).name() : files.size() + " files";
      BackupException first = null;
      int ok = 0;
      int done = 0;
      // Several files in flight at once: small files are bound by the servers' fsyncs, and
      // many at a time let the disks group them.
      // Small files: many more, as their time goes to round trips and fsyncs, not bytes.
      int window = files.size() == 1 ? 1 : totalBytes / files.size() < SMALL_FILE ? IN_FLIGHT_SMALL : IN_FLIGHT;
      java.util.ArrayDeque<LocalFiles.LocalFile> todo = new java.util.ArrayDeque<>(files);
      java.util.concurrent.LinkedBlockingQueue<Object[]> finished = new java.util.concurrent.LinkedBlockingQueue<>();
      int inFlight = 0;
      boolean stop = false;
      // Files known unchanged from their local records, compared with the catalog as it was
      // when the command began: confirmed with one look at it at the end (below).
      List<Object[]> unread = new ArrayList<>();
      boolean confirming = false;
      try (Progress progress = new Progress(task, totalBytes, true)) {
        while (true) {
          while (inFlight > 0 || (!todo.isEmpty() && !stop)) {
            while (!stop && inFlight < window && !todo.isEmpty()) {
              LocalFiles.LocalFile f = todo.poll();
              inFlight++;
              long[] last = {0};
              attempt(client, f, r, latest.getJsonObject(f.name()), x -> {
                progress.add(x - last[0]);
                last[0] = x;
              }, 1).onComplete(ar -> finished.add(new Object[] {f, ar}));
            }
            Object[] next = take(finished);
            inFlight--;
            done++;
            progress.files(done, files.size());
            LocalFiles.LocalFile f = (LocalFiles.LocalFile) next[0];
            @SuppressWarnings("unchecked")
            io.vertx.core.AsyncResult<BackupClient.Uploaded> ar = (io.vertx.core.AsyncResult<BackupClient.Uploaded>) next[1];
            if (ar.succeeded()) {
              BackupClient.Uploaded u = ar.result();
              if (u.unread() && !confirming) {
                unread.add(new Object[] {f, u});
                continue;
              }
              String line;
              try {
                line = u.unchanged() ? unchangedLine(f, u) + wanted(client, f, latest.getJsonObject(f.name()))
                    : "backed up " + f.name() + " (" + Format.size(u.size()) + ", version " + u.version() + ", "
                        + u.copies() + " copies)";
              } catch (BackupException e) {
                first = first == null ? e : first;
                progress.above(Console.red("error:") + " " + f.name() + ": " + e.getMessage(), err());
                continue;
              }
              ok++;
              progress.above(line, out());
              continue;
            }
            BackupException e = BackupException.wrap(ar.cause());
            if (client.cancelled()) {
              if (first == null || first.code() != ErrorCode.CANCELLED) {
                first = new BackupException(ErrorCode.CANCELLED, "cancelled");
              }
              progress.above(Console.yellow("cancelled") + " " + f.name() + " (nothing of it was kept)", err());
              stop = true;
              continue;
            }
            if (first == null) {
              first = e;
            }
            progress.above(Console.red("error:") + " " + f.name() + ": " + e.getMessage(), err());
            if (e.code() == ErrorCode.CONNECTION && e.getMessage().contains("manager")) {
              stop = true;
            }
          }
          if (confirming || stop || unread.isEmpty()) {
            break;
          }
          confirming = true;
          JsonObject now;
          try {
            now = client.stat(unread.stream().map(x -> ((LocalFiles.LocalFile) x[0]).name()).toList()).await();
          } catch (BackupException e) {
            first = first == null ? e : first;
            progress.above(Console.red("error:") + " cannot confirm " + unread.size() + " unchanged file"
                + (unread.size() == 1 ? "" : "s") + " with the manager: " + e.getMessage(), err());
            break;
          }
          for (Object[] x : unread) {
            LocalFiles.LocalFile f = (LocalFiles.LocalFile) x[0];
            BackupClient.Uploaded u = (BackupClient.Uploaded) x[1];
            JsonObject l = now.getJsonObject(f.name());
            if (stillLatest(u, l)) {
              String line;
              try {
                line = unchangedLine(f, u) + wanted(client, f, l);
              } catch (BackupException e) {
                first = first == null ? e : first;
                progress.above(Console.red("error:") + " " + f.name() + ": " + e.getMessage(), err());
                continue;
              }
              ok++;
              progress.above(line, out());
            } else {
              // The catalog changed meanwhile (another session): back the file up against it as it is now.
              if (l == null) {
                latest.remove(f.name());
              } else {
                latest.put(f.name(), l);
              }
              todo.add(f);
              done--;
            }
          }
        }
      }
      if (files.size() > 1) {
        out().printf("%d of %d files backed up%n", ok, files.size());
      }
      return first == null ? 0 : first.code().exitCode();
    }

    private static String unchangedLine(LocalFiles.LocalFile f, BackupClient.Uploaded u) {
      return String.format("unchanged %s (version %d already has these bytes)", f.name(), u.version());
    }

    /**
     * For an unchanged file, the copies asked for with {@code --replicas} (none given: nothing
     * to do): kept from now on as the {@code replicas} command would (its check of R against
     * the live servers too). {@code latest} is the file's latest version from the catalog,
     * with its copies wanted. Returns what changed, to add to the file's line ("" if nothing).
     */
    private String wanted(BackupClient client, LocalFiles.LocalFile f, JsonObject latest) {
      if (replicas == null) {
        return "";
      }
      Integer had = latest == null ? null : latest.getInteger("replicas");
      if (had != null && had.intValue() == replicas) {
        return "";
      }
      client.request(new JsonObject().put("op", "replicas").put("path", f.name()).put("replicas", replicas)
          .put("exact", true)).await();
      return ", now " + plural(replicas, "copy", "copies") + (had == null ? "" : " (was " + had + ")");
    }

    /**
     * Whether a file found unchanged against the catalog's latest version as the command
     * began is so still: {@code now} is that name's latest version now (null: none).
     */
    static boolean stillLatest(BackupClient.Uploaded u, JsonObject now) {
      return now != null && now.getLong("version", -1L) == u.version() && u.sha256().equals(now.getString("sha256"))
          && now.getLong("size", -1L) == u.size();
    }

    private static Object[] take(java.util.concurrent.BlockingQueue<Object[]> q) {
      try {
        return q.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new BackupException(ErrorCode.CANCELLED, "interrupted");
      }
    }

    /**
     * One upload, tried again (up to three times) when a storage server dies or cannot be
     * reached: the manager has seen it by then and places the file on others. Nothing is
     * reported done unless every copy is.
     */
    private io.vertx.core.Future<BackupClient.Uploaded> attempt(BackupClient client, LocalFiles.LocalFile f, int r,
                                                             JsonObject latest, java.util.function.LongConsumer progress,
                                                             int n) {
      return client.upload(f.path().toString(), f.name(), r, latest, progress).recover(t -> {
        BackupException e = BackupException.wrap(t);
        boolean serverTrouble = (e.code() == ErrorCode.CONNECTION || e.code() == ErrorCode.TIMEOUT)
            && !e.getMessage().contains("manager") && !client.cancelled();
        if (!serverTrouble || n >= 3) {
          return io.vertx.core.Future.failedFuture(e);
        }
        synchronized (err()) {
          err().println(Console.yellow("note:") + " " + f.name() + ": " + e.getMessage() + "; trying again");
          err().flush();
        }
        progress.accept(0);
        return client.pause(500L * n).compose(x -> attempt(client, f, r, latest, progress, n + 1));
      });
    }
  }

  /** Files of one backup in flight at once. */
  static final int IN_FLIGHT = 8;
  static final int IN_FLIGHT_SMALL = 32;
  static final long SMALL_FILE = 1L << 20;

  @Command(name = "list", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
      description = "The catalog: name, versions, size, checksum, copies wanted and held.")
  static final class ListFiles extends Base {
    @Option(names = "--json", description = "one JSON document on standard output")
    boolean json;

    ListFiles(ClientSession session) {
      super(session);
    }

    @Override
    public Integer call() {
      JsonObject res = session.client().list().await();
      res.remove("v");
      if (json) {
        out().println(res.encodePrettily());
        return 0;
      }
      JsonArray files = res.getJsonArray("files", new JsonArray());
      if (files.isEmpty()) {
        out().println("no files backed up yet");
        return 0;
      }
      out().printf("%-40s %7s %10s  %-12s  %-19s  %s%n", "NAME", "VERSION", "SIZE", "SHA-256", "TIME", "COPIES");
      for (Object o : files) {
        JsonObject f = (JsonObject) o;
        int wanted = f.getInteger("replicas");
        for (Object vo : f.getJsonArray("versions")) {
          JsonObject v = (JsonObject) vo;
          int held = v.getJsonArray("replicas").size();
          out().printf("%-40s %7d %10s  %-12s  %-19s  %d/%d%s%n", f.getString("name"), v.getLong("version"),
              Format.size(v.getLong("size")), v.getString("sha256").substring(0, 12),
              Format.time(v.getLong("created", 0L)), held, wanted, held < wanted ? " under-replicated" : "");
        }
      }
      return 0;
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
      description = "The servers: id, health, bytes and files stored, free space, transfers in progress.")
  static final class Status extends Base {
    @Option(names = "--json", description = "one JSON document on standard output")
    boolean json;

    Status(ClientSession session) {
      super(session);
    }

    @Override
    public Integer call() {
      JsonObject res = session.client().request(new JsonObject().put("op", "status")).await();
      res.remove("v");
      if (json) {
        out().println(res.encodePrettily());
        return 0;
      }
      JsonArray servers = res.getJsonArray("servers", new JsonArray());
      JsonObject health = res.getJsonObject("health");
      if (health != null) {
        out().printf("files: %d, healthy %d, under-replicated %d, being healed %d%n", health.getInteger("files"),
            health.getInteger("healthy"), health.getInteger("underReplicated"), health.getInteger("healing"));
      }
      if (servers.isEmpty()) {
        out().println("no storage server has reported yet");
        return 0;
      }
      out().printf("%-4s %-10s %-22s %10s %7s %10s %9s %8s%n", "ID", "STATE", "ADDRESS", "STORED", "FILES", "FREE",
          "TRANSFERS", "LATENCY");
      for (Object o : servers) {
        JsonObject s = (JsonObject) o;
        out().printf("%-4d %-10s %-22s %10s %7d %10s %9d %6.1fms%n", s.getInteger("id"), s.getString("state"),
            s.getString("host") + ":" + s.getInteger("port"), Format.size(s.getLong("bytes")), s.getLong("files"),
            Format.size(s.getLong("freeBytes")), s.getInteger("transfers"), s.getLong("latencyMicros", 0L) / 1000.0);
      }
      for (Object o : servers) {
        JsonObject s = (JsonObject) o;
        int aside = s.getInteger("damagedAside", 0);
        if (aside > 0) {
          // (A dead server's, as it last said.)
          boolean dead = "dead".equals(s.getString("state"));
          out().printf("server %d %s %d damaged cop%s set aside under damaged/ in its root (each the last copy "
              + "of its version)%s: salvage what you can, then remove them%n", s.getInteger("id"),
              dead ? "kept" : "keeps", aside, aside == 1 ? "y" : "ies", dead ? " when last heard from" : "");
        }
      }
      return 0;
    }
  }

  @Command(name = "restore", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
      description = {"Get files or whole folders back (default: the latest version, into the client root).",
          "--to works as cp does: an existing folder receives the files under their names; any other path names "
              + "the restored file (or folder). A relative --to is taken from the client root."})
  static final class Restore extends Base {
    @Parameters(arity = "1..*", paramLabel = "PATH", description = "backed-up files or folders")
    List<String> paths;

    @Option(names = "--version", paramLabel = "V", description = "restore this version (a single file only)")
    Long version;

    @Option(names = "--to", paramLabel = "PATH", description = "where to put the restored files")
    String to;

    @Option(names = "--force", description = "overwrite an existing file that has other content")
    boolean force;

    Restore(ClientSession session) {
      super(session);
    }

    @Override
    public Integer call() {
      LocalFiles local = session.local();
      BackupClient client = session.client();
      client.resetCancel();
      if (to != null && paths.size() > 1 && !java.nio.file.Files.isDirectory(local.root().resolve(to))) {
        throw new BackupException(ErrorCode.USAGE, "with several paths, --to must be an existing folder");
      }
      BackupException first = null;
      int ok = 0;
      int total = 0;
      for (String p : paths) {
        String name = local.remoteName(p);
        // The plan comes a page at a time, each with fresh read tickets, as the restore goes on
        // (where its files go is decided once: the first page may make --to a folder).
        boolean toWasFolder = dev.backup.client.RestoreTargets.isFolder(local.root(), to);
        String after = null;
        boolean firstPage = true;
        do {
          if (client.cancelled()) {
            return ErrorCode.CANCELLED.exitCode();
          }
          JsonObject req = new JsonObject().put("op", "restore").put("path", name).put("paged", true);
          if (version != null) {
            req.put("version", version);
          }
          if (after != null) {
            req.put("after", after);
          }
          JsonObject plan;
          try {
            plan = client.request(req).await();
          } catch (BackupException e) {
            if (firstPage) {
              throw e;
            }
            // A later page: what was restored stays, and the other paths are still tried.
            first = first == null ? e : first;
            err().println(Console.red("error:") + " " + name + ": " + e.getMessage() + " (the rest of it was not restored)");
            err().flush();
            break;
          }
          firstPage = false;
          after = plan.getString("next");
          JsonArray files = plan.getJsonArray("files");
          List<String> names = new ArrayList<>();
          files.forEach(o -> names.add(((JsonObject) o).getString("name")));
          java.util.Map<String, java.nio.file.Path> targets = dev.backup.client.RestoreTargets.targets(local.root(), name,
              plan.getBoolean("single"), names, to, toWasFolder);
          for (Object o : files) {
            JsonObject f = (JsonObject) o;
            if (client.cancelled()) {
              err().println(Console.yellow("cancelled") + " " + f.getString("name") + " (nothing of it was written)");
              return ErrorCode.CANCELLED.exitCode();
            }
            total++;
            java.nio.file.Path target = targets.get(f.getString("name"));
            try (Progress progress = new Progress(f.getString("name"), f.getLong("size"), true)) {
              BackupClient.Restored r = client.restore(f, target, force, msg -> {
                err().println(Console.yellow("note:") + " " + msg);
                err().flush();
              }, progress).await();
              progress.close();
              ok++;
              if (r.unchanged()) {
                out().printf("unchanged %s (already has %s version %d)%n", shown(local, target), r.name(), r.version());
              } else {
                out().printf("restored %s version %d to %s (%s)%n", r.name(), r.version(), shown(local, target),
                    Format.size(r.size()));
              }
              out().flush();
            } catch (BackupException e) {
              if (client.cancelled()) {
                err().println(Console.yellow("cancelled") + " " + f.getString("name") + " (nothing of it was written)");
                return ErrorCode.CANCELLED.exitCode();
              }
              if (first == null) {
                first = e;
              }
              err().println(Console.red("error:") + " " + f.getString("name") + ": " + e.getMessage());
              err().flush();
            }
          }
        } while (after != null);
      }
      if (total > 1) {
        out().printf("%d of %d files restored%n", ok, total);
      }
      return first == null ? 0 : first.code().exitCode();
    }

    private static String shown(LocalFiles local, java.nio.file.Path target) {
      java.nio.file.Path t = target.toAbsolutePath().normalize();
      return t.startsWith(local.root()) ? local.root().relativize(t).toString() : t.toString();
    }
  }

  @Command(name = "replicas", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
      description = "Change how many copies a file (or every file of a folder) keeps.")
  static final class Replicas extends Base {
    @Parameters(index = "0", paramLabel = "PATH", description = "a backed-up file or folder")
    String path;

    @Parameters(index = "1", paramLabel = "R", description = "copies to keep (1 to the number of live servers)")
    int replicas;

    Replicas(ClientSession session) {
      super(session);
    }

    @Override
    public Integer call() {
      String name = session.local().remoteName(path);
      if (replicas < 1) {
        throw new BackupException(ErrorCode.USAGE, "R must be at least 1, not " + replicas);
      }
      JsonObject res = session.client().request(new JsonObject().put("op", "replicas").put("path", name)
          .put("replicas", replicas)).await();
      for (Object o : res.getJsonArray("changes")) {
        JsonObject c = (JsonObject) o;
        JsonArray added = c.getJsonArray("added");
        JsonArray removed = c.getJsonArray("removed");
        String what = !added.isEmpty() ? "copied to " + plural(added.size(), "more server")
            : !removed.isEmpty() ? "removed " + plural(removed.size(), "copy", "copies")
            : "already has " + plural(replicas, "copy", "copies");
        out().printf("%s version %d: %s, now %d cop%s%n", c.getString("name"), c.getLong("version"), what, replicas,
            replicas == 1 ? "y" : "ies");
      }
      int count = res.getInteger("changeCount", res.getJsonArray("changes").size());
      if (count > res.getJsonArray("changes").size()) {
        out().printf("... and %d more versions, now %d cop%s each%n", count - res.getJsonArray("changes").size(),
            replicas, replicas == 1 ? "y" : "ies");
      }
      return 0;
    }
  }

  /**
   * The files the user named: paths relative to the client root, or numbers and ranges
   * ({@code 3}, {@code 2-5}) from the numbered list of {@code files}. Each file once. The
   * folders and files named by path go into {@code scopes} (see LocalHashes#listed).
   */
  static List<LocalFiles.LocalFile> pick(LocalFiles local, List<String> args, java.util.Set<String> scopes) {
    java.util.LinkedHashMap<String, LocalFiles.LocalFile> picked = new java.util.LinkedHashMap<>();
    List<LocalFiles.LocalFile> numbered = null;
    for (String a : args) {
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+)(?:-(\\d+))?").matcher(a);
      if (m.matches() && !java.nio.file.Files.exists(local.root().resolve(a))) {
        if (numbered == null) {
          numbered = local.all();
        }
        int from = Integer.parseInt(m.group(1));
        int to = m.group(2) == null ? from : Integer.parseInt(m.group(2));
        if (from < 1 || to > numbered.size() || from > to) {
          throw new BackupException(ErrorCode.USAGE, "no file number " + a + " ('files' lists 1 to " + numbered.size() + ")");
        }
        for (int i = from; i <= to; i++) {
          picked.putIfAbsent(numbered.get(i - 1).name(), numbered.get(i - 1));
        }
      } else {
        local.expand(a).forEach(f -> picked.putIfAbsent(f.name(), f));
        scopes.add(local.nameOf(a));
      }
    }
    return new ArrayList<>(picked.values());
  }

  static String plural(int n, String one) {
    return plural(n, one, one + "s");
  }

  static String plural(int n, String one, String many) {
    return n + " " + (n == 1 ? one : many);
  }

  @Command(name = "delete", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
      description = "Remove files, folders or one version from every server.")
  static final class Delete extends Base {
    @Parameters(arity = "1..*", paramLabel = "PATH", description = "backed-up files or folders")
    List<String> paths;

    @Option(names = "--version", paramLabel = "V", description = "remove only this version (a single file only)")
    Long version;

    Delete(ClientSession session) {
      super(session);
    }

    @Override
    public Integer call() {
      JsonArray names = new JsonArray();
      for (String p : paths) {
        names.add(session.local().remoteName(p));
      }
      JsonObject req = new JsonObject().put("op", "delete").put("paths", names);
      if (version != null) {
        req.put("version", version);
      }
      JsonObject res = session.client().request(req).await();
      JsonArray deleted = res.getJsonArray("deleted");
      for (Object o : deleted) {
        JsonObject d = (JsonObject) o;
        out().printf("deleted %s version %d%n", d.getString("name"), d.getLong("version"));
      }
      int count = res.getInteger("deletedCount", deleted.size());
      if (count > deleted.size()) {
        out().printf("... and %d more (%d versions deleted)%n", count - deleted.size(), count);
      }
      int deferred = res.getInteger("deferred", 0);
      if (deferred > 0) {
        out().printf("%s down now will delete %s when %s back%n", plural(deferred, "server"),
            deferred == 1 ? "its copy" : "their copies", deferred == 1 ? "it is" : "they are");
      }
      return 0;
    }
  }

  @Command(name = "verify", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
      description = {"Check every copy of the named files (default: all) against its checksum.",
          "With --local, compare the client's own files with their latest backups instead (nothing is downloaded)."})
  static final class Verify extends Base {
    @Parameters(arity = "0..*", paramLabel = "PATH", description = "files or folders (default: everything)")
    List<String> paths = new ArrayList<>();

    @Option(names = "--local", description = "compare the client's files with their latest backups")
    boolean local;

    Verify(ClientSession session) {
      super(session);
    }

    @Override
    public Integer call() {
      return local ? verifyLocal() : verifyRemote();
    }

    private int verifyRemote() {
      JsonArray names = new JsonArray();
      for (String p : paths) {
        names.add(session.local().remoteName(p));
      }
      JsonObject res = session.client().request(new JsonObject().put("op", "verify").put("paths", names)).await();
      JsonArray problems = res.getJsonArray("problems");
      for (Object o : problems) {
        JsonObject p = (JsonObject) o;
        String status = p.getString("status");
        String where = p.containsKey("server") ? " on server " + p.getInteger("server") : "";
        String why = switch (status) {
          case "bad" -> "checksum does not match";
          case "missing" -> "copy is missing";
          case "unreachable" -> "server is not reachable";
          case "under-replicated" -> p.getInteger("copies") + " of " + p.getInteger("wanted") + " copies";
          default -> status;
        };
        out().printf("%-16s %s version %d%s: %s%n", status.toUpperCase(java.util.Locale.ROOT), p.getString("name"),
            p.getLong("version"), where, why);
      }
      int count = res.getInteger("problemCount", problems.size());
      if (count > problems.size()) {
        out().printf("... and %d more%n", count - problems.size());
      }
      out().printf("verified %s of %s: %s%n", plural(res.getInteger("copies"), "copy", "copies"),
          plural(res.getInteger("files"), "file"), count == 0 ? "all good" : plural(count, "problem"));
      return count == 0 ? 0 : ErrorCode.INTEGRITY.exitCode();
    }

    private int verifyLocal() {
      LocalFiles lf = session.local();
      List<LocalFiles.LocalFile> files = new ArrayList<>();
      if (paths.isEmpty()) {
        files.addAll(lf.all());
      } else {
        for (String p : paths) {
          files.addAll(lf.expand(p));
        }
      }
      JsonObject latest = session.client().stat(files.stream().map(LocalFiles.LocalFile::name).toList()).await();
      int same = 0;
      int changed = 0;
      int fresh = 0;
      for (LocalFiles.LocalFile f : files) {
        JsonObject l = latest.getJsonObject(f.name());
        if (l == null) {
          fresh++;
          out().println("new        " + f.name() + " (not backed up)");
          continue;
        }
        // (Never from the records: --local is there to read every file.)
        boolean equal = l.getLong("size") == f.size()
            && sha(dev.backup.client.LocalHashes.none(), f).equals(l.getString("sha256"));
        if (equal) {
          same++;
        } else {
          changed++;
          out().println("changed    " + f.name() + " (differs from version " + l.getLong("version") + ")");
        }
      }
      out().printf("%d unchanged, %d changed, %d new%n", same, changed, fresh);
      return changed + fresh == 0 ? 0 : ErrorCode.DIFFERS.exitCode();
    }

    /** The file's SHA-256: from its record in {@code records} if untouched since, else read (none: always read). */
    static String sha(dev.backup.client.LocalHashes records, LocalFiles.LocalFile f) {
      try {
        return records.sha256(f.name(), f.path()).sha256();
      } catch (java.io.IOException e) {
        throw new BackupException(ErrorCode.IO, "cannot read " + f.path() + ": " + e.getMessage());
      }
    }
  }

  @Command(name = "files", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
      description = "The numbered list of files in the client root.")
  static final class Files extends Base {
    Files(ClientSession session) {
      super(session);
    }

    @Override
    public Integer call() {
      List<LocalFiles.LocalFile> all = session.local().all();
      if (all.isEmpty()) {
        out().println("no files in " + session.local().root());
        return 0;
      }
      JsonObject latest = new JsonObject();
      try {
        latest = session.client().stat(all.stream().map(LocalFiles.LocalFile::name).toList()).await();
      } catch (BackupException e) {
        err().println(Console.yellow("note:") + " " + e.getMessage() + " (showing local files only)");
      }
      int i = 1;
      int marked = 0;
      // A file left alone since it was last read is compared by its recorded checksum.
      dev.backup.client.LocalHashes records = session.localHashes();
      records.listed("", all.stream().map(LocalFiles.LocalFile::name).toList());
      for (LocalFiles.LocalFile f : all) {
        String mark = " ";
        JsonObject l = latest.getJsonObject(f.name());
        if (l != null) {
          boolean same = l.getLong("size") == f.size() && Verify.sha(records, f).equals(l.getString("sha256"));
          mark = same ? Console.green("*") : Console.yellow("~");
          marked++;
        }
        out().printf("%4d %s %10s  %s%n", i++, mark, Format.size(f.size()), f.name());
      }
      records.save();
      if (marked > 0) {
        out().println(Console.dim("     * backed up and unchanged   ~ changed since its last backup"));
      }
      return 0;
    }
  }
}
