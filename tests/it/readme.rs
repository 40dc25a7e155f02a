//! README.md's opening commands stay true: the first one (the demo apply) runs as written against a copy
//! of `examples/`, installs entries, and a second run changes nothing.

use std::path::Path;

use assert_cmd::Command;

/// The arguments after `cargo run --quiet --` in README's first command.
fn demo_args() -> Vec<String> {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .expect("README starts with a sh block");
    let first = block.lines().next().unwrap();
    let command = first.split('#').next().unwrap().trim();
    let args = command
        .strip_prefix("cargo run --quiet -- ")
        .expect("first command runs cronix through cargo");
    args.split_whitespace().map(str::to_string).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_second_readme_command_is_cargo_test() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let block = readme.split("```sh\n").nth(1).unwrap();
    let second = block.lines().nth(1).unwrap();
    assert_eq!(second.split('#').next().unwrap().trim(), "cargo test");
}

#[test]
fn the_demo_apply_works_without_root_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new("examples"), &dir.path().join("examples"));
    let run = || {
        Command::cargo_bin("cronix")
            .unwrap()
            .current_dir(dir.path())
            .env_remove("CRONIX_CONFIG")
            .env("HOME", dir.path())
            .args(demo_args())
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let crontab = std::fs::read_to_string(dir.path().join("examples/demo/out/crontab")).unwrap();
    assert!(
        crontab.contains("# cronix:owned app=billing-service job=settle-invoices"),
        "{crontab}"
    );
    assert!(
        dir.path()
            .join("examples/demo/out/jobs/billing-service.settle-invoices.json")
            .is_file()
    );
    let mtime = std::fs::metadata(dir.path().join("examples/demo/out/crontab"))
        .unwrap()
        .modified()
        .unwrap();

    let second = run();
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("nothing changed"));
    assert_eq!(
        std::fs::metadata(dir.path().join("examples/demo/out/crontab"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
}
