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
      List<LocalFiles.LocalFile> files = new ArrayList<>();
      for (String p : paths) {
        files.addAll(local.expand(p));
      }
      BackupClient client = session.client();
      BackupException first = null;
      int ok = 0;
      for (LocalFiles.LocalFile f : files) {
        try {
          BackupClient.Uploaded u = client.upload(f.path().toString(), f.name(), r).await();
          ok++;
          out().printf("backed up %s (%s, version %d, %d copies)%n", f.name(), Format.size(u.size()), u.version(), u.copies());
          out().flush();
        } catch (BackupException e) {
          if (first == null) {
            first = e;
          }
          err().println("error: " + f.name() + ": " + e.getMessage());
          err().flush();
          if (e.code() == ErrorCode.CONNECTION && e.getMessage().contains("manager")) {
            break;
          }
        }
      }
      if (files.size() > 1) {
        out().printf("%d of %d files backed up%n", ok, files.size());
      }
      return first == null ? 0 : first.code().exitCode();
    }
  }

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
      JsonObject res = session.client().request(new JsonObject().put("op", "list")).await();
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
      return 0;
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
      int i = 1;
      for (LocalFiles.LocalFile f : all) {
        out().printf("%4d  %10s  %s%n", i++, Format.size(f.size()), f.name());
      }
      return 0;
    }
  }
}
