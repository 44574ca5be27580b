; Inno Setup 6 script for the IOPDesk Windows installer.
;
; Build on Windows (after `python installer\build.py` has made dist\iopdesk):
;     python installer\build.py --installer
; which runs, with the version from pyproject.toml:
;     ISCC.exe /DAppVersion=0.1.0 /DSourceDir=dist\iopdesk /Odist installer\iopdesk.iss
; Signed build: set IOPDESK_SIGN_COMMAND (see installer/build.py); build.py then passes
;     /DSIGN "/Siopdesksign=<your signtool command with $f>"
; so Setup, the uninstaller and the executables are all signed with the clinic's certificate.
;
; What it does:
; - Asks "for me only" (no administrator rights, %LOCALAPPDATA%\Programs\IOPDesk) or "for all
;   users" (Program Files, needs an administrator); /CURRENTUSER or /ALLUSERS on the command line.
; - Start menu shortcuts (IOPDesk, and the demo clinic for training), an optional desktop one.
; - Upgrades in place: the AppId below never changes, so a newer setup replaces the program
;   files in the same folder and mode; the clinic's data is never in the program folder.
; - The uninstaller removes the program and keeps the clinic's data (database, key file,
;   backups, logs, settings in %LOCALAPPDATA%\IOPDesk) unless the user asks, twice, to delete it.

#ifndef AppVersion
  #error Pass the version: ISCC /DAppVersion=x.y.z (installer/build.py does)
#endif
#ifndef SourceDir
  #define SourceDir "..\dist\iopdesk"
#endif

#define AppName "IOPDesk"
#define AppPublisher "IOPDesk"
#define AppExe "iopdeskw.exe"

[Setup]
; Never change the AppId: it is how an upgrade finds the installed copy.
AppId={{6F1C2B7E-5B8A-4E0D-9C3A-1D2E7A4B9F60}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
AppCopyright=IOPDesk team
VersionInfoVersion={#AppVersion}
VersionInfoProductName={#AppName}
VersionInfoDescription={#AppName} Setup
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per-user or per-machine: the user chooses in a dialog (default: all users, needs admin).
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog
; 64-bit Windows 10 or later only (Qt 6 needs it).
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
; Close a running IOPDesk before replacing its files (Restart Manager), and do not restart it.
CloseApplications=yes
RestartApplications=no
OutputBaseFilename={#AppName}-{#AppVersion}-setup
SetupIconFile=iopdesk.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
#ifdef SIGN
SignTool=iopdesksign
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the bundled libraries as a whole, so none of an older version's are left.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Administration for your IOP clinic"
Name: "{autoprograms}\{#AppName} demo clinic"; Filename: "{app}\{#AppExe}"; Parameters: "demo"; Comment: "Try IOPDesk on made-up data (for training)"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
Type: filesandordirs; Name: "{app}\_internal"

[Code]
{ The clinic's data folder of the Windows account running the uninstaller (platformdirs:
  %LOCALAPPDATA%\IOPDesk\IOPDesk holds the database, its .keyinfo, backups, logs and settings).
  Kept unless the user says yes to two questions whose default button is "No"; a silent
  uninstall (/SILENT, /VERYSILENT) always keeps it. }
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  DataDir: String;
begin
  if (CurUninstallStep <> usPostUninstall) or UninstallSilent then
    Exit;
  DataDir := ExpandConstant('{localappdata}\IOPDesk');
  if not DirExists(DataDir) then
    Exit;
  if MsgBox('IOPDesk was removed. The clinic data on this computer was kept:' + #13#10 +
      DataDir + #13#10#13#10 +
      'It holds client records, backups and logs that your clinic must keep for its records ' +
      'retention period. Keep it unless you have a verified copy elsewhere.' + #13#10#13#10 +
      'Delete the IOPDesk data of this Windows account as well?',
      mbConfirmation, MB_YESNO or MB_DEFBUTTON2) <> IDYES then
    Exit;
  if MsgBox('This permanently deletes the IOPDesk database, backups and logs in' + #13#10 +
      DataDir + #13#10 + 'and cannot be undone. Delete them now?',
      mbError, MB_YESNO or MB_DEFBUTTON2) = IDYES then
    DelTree(DataDir, True, True, True);
end;
