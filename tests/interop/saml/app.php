<?php
// The application: any page needs a signed-in user (the SP's requireAuth()).
require_once('/usr/share/simplesamlphp/lib/_autoload.php');
$as = new \SimpleSAML\Auth\Simple('app-sp');
$as->requireAuth();
$attributes = $as->getAttributes();
$who = $attributes['uid'][0] ?? '(no uid)';
header('Content-Type: text/html; charset=utf-8');
?>
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Interop app</title></head>
<body><p>Signed in as <?= htmlspecialchars($who) ?></p></body></html>
