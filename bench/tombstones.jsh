// The manager's memory and snapshot for the tombstones of many removed versions: 10,000
// names backed up BACKUPS times each (default 100), 3 versions kept (970,000 versions
// removed by default; BACKUPS=3: none).
//   jshell -J-Xmx2g --class-path target/backup.jar bench/tombstones.jsh
import dev.backup.manager.Catalog;
int backups = Integer.parseInt(System.getenv().getOrDefault("BACKUPS", "100"));
Catalog c = new Catalog();
System.gc(); long before = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
for (int n = 0; n < 10000; n++) { String name = "user/photos/2026/img-" + n + ".jpg"; for (int i = 1; i <= backups; i++) { long v = c.reserveVersion(name); c.commit(name, 2, new Catalog.Version(v, 1, "ab".repeat(32), 1, java.util.List.of(1, 2))); for (Catalog.Version old : c.versionsBeyond(name, 3)) c.removeVersion(name, old.version()); } }
c.drainChanges().clear();
System.gc(); Thread.sleep(500); System.gc(); long after = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
System.out.println("10,000 names x " + backups + " backups, 3 versions kept: heap " + (after - before) / (1 << 20) + " MiB; snapshot " + c.snapshot().encode().length() / (1 << 20) + " MiB");
/exit
